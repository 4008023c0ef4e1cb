"""Each configuration's and version's engine columns into its engine's options and secrets.

Only what the chosen engine uses is carried, as the engine would read it; another engine's
columns never took effect (its secrets were already removed on saving). Secrets move as
their ciphertext, so no key is needed and none is decrypted. Reversible.
"""

from django.db import migrations

MODELS = ("EmailConfiguration", "ConfigurationVersion")
DEFAULT_ENDPOINT = "https://api.sendgrid.com/v3/mail/send"


def smtp(row):
    options = {"host": row.smtp_host, "port": row.smtp_port, "security": row.smtp_security}
    options["requires_auth"] = row.smtp_requires_auth
    secrets = {}
    if row.smtp_requires_auth:
        options |= {"sign_in": "password", "username": row.smtp_username}
        if row.smtp_password is not None:
            secrets["password"] = row.smtp_password
    return options, secrets


def sendgrid(row):
    secrets = {"api_key": row.sendgrid_api_key} if row.sendgrid_api_key is not None else {}
    return {"endpoint": row.sendgrid_endpoint}, secrets


def forwards(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("emailconfig", name)
        for row in model._base_manager.iterator():
            options, secrets = (sendgrid if row.engine == "sendgrid" else smtp)(row)
            model._base_manager.filter(pk=row.pk).update(options=options, secrets=secrets)


def backwards(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("emailconfig", name)
        for row in model._base_manager.iterator():
            options, secrets = row.options, row.secrets
            if row.engine == "sendgrid":
                columns = {
                    "sendgrid_endpoint": options.get("endpoint", DEFAULT_ENDPOINT),
                    "sendgrid_api_key": secrets.get("api_key"),
                }
            else:
                columns = {
                    "smtp_host": options.get("host", ""),
                    "smtp_port": options.get("port", 25),
                    "smtp_security": options.get("security", "none"),
                    "smtp_requires_auth": options.get("requires_auth", False),
                    "smtp_username": options.get("username", ""),
                    # An OAuth2 sign-in has no column to go back to: it is not carried.
                    "smtp_password": secrets.get("password"),
                }
            model._base_manager.filter(pk=row.pk).update(**columns)


class Migration(migrations.Migration):
    dependencies = [
        ("emailconfig", "0016_engine_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
