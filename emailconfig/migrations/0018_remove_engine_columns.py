"""The engine columns, now in options and secrets (0017 moved their values)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("emailconfig", "0017_engine_options_data"),
    ]

    operations = [
        migrations.RemoveField(
            model_name='configurationversion',
            name='sendgrid_api_key',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='sendgrid_endpoint',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_host',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_password',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_port',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_requires_auth',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_security',
        ),
        migrations.RemoveField(
            model_name='configurationversion',
            name='smtp_username',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='sendgrid_api_key',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='sendgrid_endpoint',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_host',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_password',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_port',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_requires_auth',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_security',
        ),
        migrations.RemoveField(
            model_name='emailconfiguration',
            name='smtp_username',
        ),
    ]
