import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import TruncDate


def backfill(apps, schema_editor):
    """Count the messages already finished, as the workers count them from now on."""
    Message = apps.get_model("emailconfig", "Message")
    DailyDeliveryCount = apps.get_model("emailconfig", "DailyDeliveryCount")
    counts: dict = {}
    finished = (
        Message.objects.filter(status__in=["sent", "failed"])
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("stage_id", "day", "status")
        .annotate(n=Count("pk"))
    )
    for row in finished:
        counts.setdefault((row["stage_id"], row["day"]), {"sent": 0, "failed": 0})[
            row["status"]
        ] = row["n"]
    DailyDeliveryCount.objects.bulk_create(
        DailyDeliveryCount(stage_id=stage_id, day=day, **n) for (stage_id, day), n in counts.items()
    )


# The outbox search on PostgreSQL: subject words on a trigram index (`icontains` runs as
# UPPER(subject::text) LIKE ...), whole addresses by JSON containment. PostgreSQL only, so
# not in the models' Meta, which SQLite would have to build too.
SEARCH_INDEXES = {
    "message_search_subject": "USING gin ((UPPER(subject::text)) gin_trgm_ops)",
    "message_search_final_recipients": "USING gin (final_recipients jsonb_path_ops)",
    "message_search_recipients": "USING gin (recipients jsonb_path_ops)",
}


def add_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in SEARCH_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON emailconfig_message {definition}")


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in SEARCH_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("emailconfig", "0006_envelope_from"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyDeliveryCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("sent", models.IntegerField(default=0)),
                ("failed", models.IntegerField(default=0)),
                (
                    "stage",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="emailconfig.stage",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("stage", "day"), name="daily_count_once_per_stage_day"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["message_id"], name="message_message_id"),
        ),
        migrations.AddIndex(
            model_name="sinkmessage",
            index=models.Index(fields=["received_at"], name="sink_received"),
        ),
        migrations.RunPython(add_search_indexes, drop_search_indexes),
    ]
