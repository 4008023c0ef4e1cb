"""Encryption of stored secrets with MultiFernet.

Keys come from ``settings.STAGEMAIL_ENCRYPTION_KEYS``: the first key encrypts,
every key decrypts, so a new key can be put in front, everything rotated with
``manage.py rotate_encryption_keys``, and the old key removed afterwards.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def parse_keys(raw_keys: list[str]) -> list[Fernet]:
    """Build Fernet instances, naming the position of any malformed key."""
    fernets = []
    for position, key in enumerate(raw_keys, start=1):
        try:
            fernets.append(Fernet(key.strip()))
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"STAGEMAIL_ENCRYPTION_KEYS: key #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; generate one with "
                "`python manage.py generate_encryption_key`)."
            ) from exc
    return fernets


@functools.cache
def _multifernet() -> MultiFernet:
    fernets = parse_keys(settings.STAGEMAIL_ENCRYPTION_KEYS)
    if not fernets:
        raise ImproperlyConfigured(
            "STAGEMAIL_ENCRYPTION_KEYS is empty, so secrets cannot be stored or read. "
            "Generate a key with `python manage.py generate_encryption_key`."
        )
    return MultiFernet(fernets)


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs: object) -> None:
    if setting == "STAGEMAIL_ENCRYPTION_KEYS":
        _multifernet.cache_clear()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(plaintext: str) -> str:
    return _multifernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _multifernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with any key in "
            "STAGEMAIL_ENCRYPTION_KEYS; was a key removed before rotating?"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token with the first key, keeping its original timestamp."""
    try:
        return _multifernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with any key in "
            "STAGEMAIL_ENCRYPTION_KEYS, so it cannot be rotated."
        ) from None
