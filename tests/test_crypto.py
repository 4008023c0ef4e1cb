import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from emailconfig import crypto


def test_it_round_trips_a_secret():
    token = crypto.encrypt("hunter2 ✓")
    assert "hunter2" not in token
    assert crypto.decrypt(token) == "hunter2 ✓"


def test_it_encrypts_the_same_secret_differently_each_time():
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_it_decrypts_with_any_listed_key_and_encrypts_with_the_first(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("s3cret")

    settings.STAGEMAIL_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "s3cret"
    rotated = crypto.rotate(token)

    settings.STAGEMAIL_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.SecretUnreadable, match="cannot be decrypted"):
        crypto.decrypt(token)


def test_it_names_the_malformed_key():
    with pytest.raises(ImproperlyConfigured, match="key #2 is not a valid Fernet key"):
        crypto.parse_keys([Fernet.generate_key().decode(), "not-a-key"])


def test_it_refuses_to_encrypt_without_keys(settings):
    settings.STAGEMAIL_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="STAGEMAIL_ENCRYPTION_KEYS is empty"):
        crypto.encrypt("x")
