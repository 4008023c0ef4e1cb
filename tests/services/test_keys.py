import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from emailconfig.models import ConfigurationVersion, EmailConfiguration
from tests import factories

pytestmark = pytest.mark.django_db


def _raw_tokens() -> list[str]:
    """The password tokens as the database holds them (secrets is a JSON object of tokens)."""
    with connection.cursor() as cursor:
        tokens = []
        for model in (EmailConfiguration, ConfigurationVersion):
            cursor.execute(f"SELECT secrets FROM {model._meta.db_table}")  # noqa: S608
            for (raw,) in cursor.fetchall():
                stored = json.loads(raw) if isinstance(raw, str) else raw
                if stored and "password" in stored:
                    tokens.append(stored["password"])
    return tokens


def _with_password(*stage_slugs: str, password: str) -> EmailConfiguration:
    return factories.configuration(
        *stage_slugs, smtp_requires_auth=True, smtp_username="mailer", smtp_password=password
    )


def test_rotation_re_encrypts_everything_so_the_old_key_can_be_removed(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [old]
    config = _with_password(password="p1")
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
    assert config.secrets["password"].reveal() == "p2"


def test_rotation_is_safe_to_run_twice(settings, capsys):
    _with_password(password="again")
    call_command("rotate_encryption_keys")
    call_command("rotate_encryption_keys")
    config = EmailConfiguration.objects.get()
    assert config.secrets["password"].reveal() == "again"
    assert "emailconfig.EmailConfiguration.secrets: 1 secret(s)" in capsys.readouterr().out


def test_rotation_changes_nothing_when_a_secret_is_unreadable(settings):
    lost, kept = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [kept]
    _with_password(password="readable")
    settings.STAGEMAIL_ENCRYPTION_KEYS = [lost]
    _with_password("qa", password="lost")
    before = _raw_tokens()

    settings.STAGEMAIL_ENCRYPTION_KEYS = [kept]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_keys")
    assert _raw_tokens() == before
