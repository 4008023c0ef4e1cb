from django.db import migrations

from emailconfig.seeds import SEEDED_STAGES, seed_stages


def seed(apps, schema_editor):
    seed_stages(apps.get_model("emailconfig", "Stage"))


def remove_unused_seeded_stages(apps, schema_editor):
    Stage = apps.get_model("emailconfig", "Stage")
    Stage.objects.filter(
        slug__in=[slug for _, slug, _, _ in SEEDED_STAGES], coverage__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("emailconfig", "0001_initial")]

    operations = [migrations.RunPython(seed, remove_unused_seeded_stages)]
