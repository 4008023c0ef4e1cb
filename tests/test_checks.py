from cryptography.fernet import Fernet

from emailconfig.checks import check_encryption_keys


def test_missing_keys_are_an_error_in_production(settings):
    settings.DEBUG = False
    settings.STAGEMAIL_ENCRYPTION_KEYS = []
    [message] = check_encryption_keys()
    assert message.id == "emailconfig.E001"
    assert message.is_serious()


def test_missing_keys_are_a_warning_in_development(settings):
    settings.DEBUG = True
    settings.STAGEMAIL_ENCRYPTION_KEYS = []
    [message] = check_encryption_keys()
    assert message.id == "emailconfig.E001"
    assert not message.is_serious()


def test_a_malformed_key_is_an_error_naming_its_position(settings):
    settings.DEBUG = True
    settings.STAGEMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "short"]
    [message] = check_encryption_keys()
    assert message.id == "emailconfig.E002"
    assert "key #2" in message.msg


def test_valid_keys_pass(settings):
    settings.STAGEMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert check_encryption_keys() == []


def test_a_negative_retention_is_an_error(settings):
    from emailconfig.checks import check_retention

    settings.STAGEMAIL_RETENTION_DAYS = -1
    [message] = check_retention()
    assert message.id == "emailconfig.E004"
    settings.STAGEMAIL_RETENTION_DAYS = 0
    assert check_retention() == []


def test_render_limits_that_cannot_work_are_an_error_naming_each(settings):
    from emailconfig.checks import check_render_limits

    settings.STAGEMAIL_RENDER_MEMORY_MB = 4
    settings.STAGEMAIL_RENDER_SECONDS = 0
    [message] = check_render_limits()
    assert message.id == "emailconfig.E006"
    assert message.msg == (
        "STAGEMAIL_RENDER_MEMORY_MB is under 16; STAGEMAIL_RENDER_SECONDS is not above 0."
    )


def test_the_default_render_limits_pass():
    from emailconfig.checks import check_render_limits

    assert check_render_limits() == []
