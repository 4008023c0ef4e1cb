"""0016-0018 move the engine columns into each engine's options and secrets, and back: the
values a configuration and its versions held are carried exactly, secrets as their ciphertext."""

from __future__ import annotations

from emailconfig.fields import Secret
from tests.test_migrations import latest, migrate

BEFORE = ("emailconfig", "0015_admin_tokens")
AFTER = ("emailconfig", "0018_remove_engine_columns")
ENDPOINT = "https://api.sendgrid.com/v3/mail/send"
PASSWORD = 'p@ss word/"+&\\'  # characters that escaping changes
API_KEY = "SG.migrated-key"


def _with_version(apps, **columns):
    """A configuration and its version 1 holding the same columns, as the old code saved them."""
    config = apps.get_model("emailconfig", "EmailConfiguration").objects.create(**columns)
    version = apps.get_model("emailconfig", "ConfigurationVersion").objects.create(
        configuration=config,
        number=1,
        stage_names=["QA"],
        test_recipients=[],
        **columns,
    )
    return config, version


SMTP_COLUMNS = {
    "name": "SMTP mail",
    "engine": "smtp",
    "smtp_host": "smtp.example.com",
    "smtp_port": 587,
    "smtp_security": "starttls",
    "smtp_requires_auth": True,
    "smtp_username": "mailer@example.com",
    "from_email": "noreply@example.com",
    "sendgrid_endpoint": ENDPOINT,
}
SENDGRID_COLUMNS = {
    "name": "SendGrid mail",
    "engine": "sendgrid",
    "sendgrid_endpoint": ENDPOINT,
    "from_email": "noreply@example.com",
}


def test_the_engine_columns_move_into_options_and_secrets_and_back(seeded_transactional_db):
    old = migrate(BEFORE)
    try:
        smtp = _with_version(old, **SMTP_COLUMNS, smtp_password=PASSWORD)
        sendgrid = _with_version(old, **SENDGRID_COLUMNS, sendgrid_api_key=API_KEY)
        tokens = {
            "smtp": [row.smtp_password.token for row in smtp],
            "sendgrid": [row.sendgrid_api_key.token for row in sendgrid],
        }
        assert PASSWORD not in tokens["smtp"][0]

        new = migrate(AFTER)
        for model, index in (("EmailConfiguration", 0), ("ConfigurationVersion", 1)):
            rows = new.get_model("emailconfig", model)._base_manager
            moved = rows.get(pk=smtp[index].pk)
            assert moved.engine == "smtp"
            assert moved.options == {
                "host": "smtp.example.com",
                "port": 587,
                "security": "starttls",
                "requires_auth": True,
                "sign_in": "password",
                "username": "mailer@example.com",
            }, model
            assert list(moved.secrets) == ["password"], model
            assert isinstance(moved.secrets["password"], Secret)
            assert moved.secrets["password"].reveal() == PASSWORD, model
            # Moved as ciphertext: the same token, never decrypted on the way.
            assert moved.secrets["password"].token == tokens["smtp"][index], model

            moved = rows.get(pk=sendgrid[index].pk)
            assert moved.engine == "sendgrid"
            assert moved.options == {"endpoint": ENDPOINT}, model
            assert list(moved.secrets) == ["api_key"], model
            assert moved.secrets["api_key"].reveal() == API_KEY, model
            assert moved.secrets["api_key"].token == tokens["sendgrid"][index], model

        back = migrate(BEFORE)
        for model, index in (("EmailConfiguration", 0), ("ConfigurationVersion", 1)):
            rows = back.get_model("emailconfig", model)._base_manager
            restored = rows.get(pk=smtp[index].pk)
            assert (
                restored.engine,
                restored.smtp_host,
                restored.smtp_port,
                restored.smtp_security,
                restored.smtp_requires_auth,
                restored.smtp_username,
            ) == ("smtp", "smtp.example.com", 587, "starttls", True, "mailer@example.com"), model
            assert restored.smtp_password.reveal() == PASSWORD, model
            assert restored.smtp_password.token == tokens["smtp"][index], model
            assert restored.sendgrid_api_key is None, model

            restored = rows.get(pk=sendgrid[index].pk)
            assert (restored.engine, restored.sendgrid_endpoint) == ("sendgrid", ENDPOINT), model
            assert restored.sendgrid_api_key.reveal() == API_KEY, model
            assert restored.sendgrid_api_key.token == tokens["sendgrid"][index], model
            assert restored.smtp_password is None, model
    finally:
        migrate(latest())


def test_only_what_the_engine_uses_is_carried(seeded_transactional_db):
    """A username and password left behind without authentication never took effect: they
    are not carried (a password with no sign-in is not stored in the new design)."""
    old = migrate(BEFORE)
    try:
        config, version = _with_version(
            old,
            **{**SMTP_COLUMNS, "smtp_requires_auth": False, "smtp_username": "left-over"},
            smtp_password="left-over-password",
        )
        new = migrate(AFTER)
        for model, pk in (("EmailConfiguration", config.pk), ("ConfigurationVersion", version.pk)):
            moved = new.get_model("emailconfig", model)._base_manager.get(pk=pk)
            assert moved.options == {
                "host": "smtp.example.com",
                "port": 587,
                "security": "starttls",
                "requires_auth": False,
            }, model
            assert moved.secrets == {}, model
    finally:
        migrate(latest())
