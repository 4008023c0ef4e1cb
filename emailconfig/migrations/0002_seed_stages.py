from django.db import migrations

SEEDED_STAGES = [
    ("Development", "development", 10, False),
    ("QA", "qa", 20, False),
    ("Production", "production", 30, True),
]


def seed_stages(apps, schema_editor):
    Stage = apps.get_model("emailconfig", "Stage")
    for name, slug, order, is_production in SEEDED_STAGES:
        Stage.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order, "is_production": is_production}
        )


def remove_unused_seeded_stages(apps, schema_editor):
    Stage = apps.get_model("emailconfig", "Stage")
    Stage.objects.filter(
        slug__in=[slug for _, slug, _, _ in SEEDED_STAGES], coverage__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("emailconfig", "0001_initial")]

    operations = [migrations.RunPython(seed_stages, remove_unused_seeded_stages)]
