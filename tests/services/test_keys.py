import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from emailconfig.models import ConfigurationVersion, EmailConfiguration
from tests import factories

pytestmark = pytest.mark.django_db


def _raw_tokens() -> list[str]:
    with connection.cursor() as cursor:
        tokens = []
        for model in (EmailConfiguration, ConfigurationVersion):
            cursor.execute(
                f"SELECT smtp_password FROM {model._meta.db_table} "  # noqa: S608
                "WHERE smtp_password IS NOT NULL"
            )
            tokens += [row[0] for row in cursor.fetchall()]
    return tokens


def test_rotation_re_encrypts_everything_so_the_old_key_can_be_removed(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [old]
    config = factories.configuration(smtp_password="p1")
    factories.edit(config, smtp_password="p2")
    before = _raw_tokens()
    assert len(before) == 3  # the configuration and both versions

    settings.STAGEMAIL_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _raw_tokens()

    settings.STAGEMAIL_ENCRYPTION_KEYS = [new]
    assert set(before).isdisjoint(after)
    new_only = Fernet(new)
    assert sorted(new_only.decrypt(t.encode()).decode() for t in after) == ["p1", "p2", "p2"]
    config.refresh_from_db()
    assert config.smtp_password.reveal() == "p2"


def test_rotation_is_safe_to_run_twice(settings, capsys):
    factories.configuration(smtp_password="again")
    call_command("rotate_encryption_keys")
    call_command("rotate_encryption_keys")
    config = EmailConfiguration.objects.get()
    assert config.smtp_password.reveal() == "again"
    assert "emailconfig.EmailConfiguration.smtp_password: 1 secret(s)" in capsys.readouterr().out


def test_rotation_changes_nothing_when_a_secret_is_unreadable(settings):
    lost, kept = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [kept]
    factories.configuration(smtp_password="readable")
    settings.STAGEMAIL_ENCRYPTION_KEYS = [lost]
    factories.configuration("qa", smtp_password="lost")
    before = _raw_tokens()

    settings.STAGEMAIL_ENCRYPTION_KEYS = [kept]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_keys")
    assert _raw_tokens() == before
