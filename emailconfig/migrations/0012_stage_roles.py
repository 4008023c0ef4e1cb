"""Stage roles replace the two groups: their members keep what they could do, stage by stage.
The audit trail records people added and deactivated, password changes and two-factor set-ups."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


# The groups of the earlier releases.
VIEWERS = "Stagemail viewers"
EDITORS = "Stagemail editors"


def grants_from_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Stage = apps.get_model("emailconfig", "Stage")
    StageGrant = apps.get_model("emailconfig", "StageGrant")
    stages = list(Stage.objects.all())
    roles = {}  # user id -> "viewer" or "editor"; editor wins
    for name, role in ((VIEWERS, "viewer"), (EDITORS, "editor")):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            roles.update(dict.fromkeys(group.user_set.values_list("pk", flat=True), role))
    StageGrant.objects.bulk_create(
        StageGrant(
            user_id=user_id,
            stage=stage,
            role="production_editor" if role == "editor" and stage.is_production else role,
        )
        for user_id, role in roles.items()
        for stage in stages
    )
    Group.objects.filter(name__in=[VIEWERS, EDITORS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("emailconfig", "0011_audit_entry"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StageGrant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("viewer", "Viewer"),
                            ("editor", "Editor"),
                            ("production_editor", "Production editor"),
                        ],
                        max_length=20,
                    ),
                ),
                ("granted_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "stage",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grants",
                        to="emailconfig.stage",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stage_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "stage"), name="one_role_per_user_and_stage"
                    )
                ],
            },
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_failed', 'Failed sign-in'), ('sign_in_locked_out', 'Locked out'), ('configuration_created', 'Configuration created'), ('configuration_edited', 'Configuration edited'), ('applied', 'Configuration applied'), ('reapplied', 'Configuration re-applied'), ('stage_created', 'Stage created'), ('stage_edited', 'Stage edited'), ('stage_moved', 'Stage moved'), ('stage_deleted', 'Stage deleted'), ('template_created', 'Template created'), ('template_edited', 'Template edited'), ('token_issued', 'Token issued'), ('token_rotated', 'Tokens rotated'), ('token_revoked', 'Token revoked'), ('role_granted', 'Role granted'), ('role_removed', 'Role removed'), ('person_added', 'Person added'), ('person_deactivated', 'Person deactivated'), ('person_reactivated', 'Person reactivated'), ('password_changed', 'Password changed'), ('second_factor_set_up', 'Two-factor sign-in set up'), ('test_send', 'Test-send'), ('connection_test', 'Connection test'), ('message_retried', 'Message retried'), ('message_cancelled', 'Message cancelled'), ('keys_rotated', 'Encryption keys rotated')], max_length=40),
        ),
        migrations.RunPython(grants_from_groups, migrations.RunPython.noop),
    ]
