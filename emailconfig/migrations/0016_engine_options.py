"""Engine options and secrets as JSON (see emailconfig/engines/options.py); data in 0017."""

import emailconfig.fields
import emailconfig.models.configurations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('emailconfig', '0015_admin_tokens'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='configurationversion',
            name='version_smtp_port_range',
        ),
        migrations.RemoveConstraint(
            model_name='configurationversion',
            name='version_engine_known',
        ),
        migrations.RemoveConstraint(
            model_name='configurationversion',
            name='version_security_known',
        ),
        migrations.RemoveConstraint(
            model_name='emailconfiguration',
            name='config_smtp_port_range',
        ),
        migrations.RemoveConstraint(
            model_name='emailconfiguration',
            name='config_engine_known',
        ),
        migrations.RemoveConstraint(
            model_name='emailconfiguration',
            name='config_security_known',
        ),
        migrations.AddField(
            model_name='configurationversion',
            name='options',
            field=models.JSONField(blank=True, default=dict, help_text="The engine's own settings, as its module defines them (host, port, ...).", verbose_name='engine options'),
        ),
        migrations.AddField(
            model_name='configurationversion',
            name='secrets',
            field=emailconfig.fields.EncryptedSecretsField(blank=True, default=dict, verbose_name='engine secrets'),
        ),
        migrations.AddField(
            model_name='emailconfiguration',
            name='options',
            field=models.JSONField(blank=True, default=dict, help_text="The engine's own settings, as its module defines them (host, port, ...).", verbose_name='engine options'),
        ),
        migrations.AddField(
            model_name='emailconfiguration',
            name='secrets',
            field=emailconfig.fields.EncryptedSecretsField(blank=True, default=dict, verbose_name='engine secrets'),
        ),
        migrations.AlterField(
            model_name='configurationversion',
            name='engine',
            field=models.CharField(choices=emailconfig.models.configurations.engine_choices, default='smtp', max_length=20),
        ),
        migrations.AlterField(
            model_name='emailconfiguration',
            name='engine',
            field=models.CharField(choices=emailconfig.models.configurations.engine_choices, default='smtp', max_length=20),
        ),
    ]
