"""A model field whose value is stored encrypted and read back as a `Secret`.

Assigning a plain string encrypts it at once, so a plaintext never lives on a
model instance; reading gives a `Secret` that only reveals its value when an
engine asks for it, and prints as a mask everywhere else (admin, logs, shell).
"""

from __future__ import annotations

import hmac
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from emailconfig import crypto

MASK = "••••••••"


class Secret:
    """Ciphertext of a secret; `reveal()` decrypts it at the last moment."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def from_plaintext(cls, plaintext: str) -> Secret:
        return cls(crypto.encrypt(plaintext))

    def reveal(self) -> str:
        return crypto.decrypt(self.token)

    def same_plaintext_as(self, other: Secret | None) -> bool:
        """Compare decrypted values; tokens differ for equal secrets."""
        if other is None:
            return False
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __repr__(self) -> str:
        return f"<Secret {MASK}>"

    __str__ = __repr__


def to_secret(value: object) -> Secret | None:
    """Normalise what may be assigned to an encrypted field."""
    if value is None or value == "":
        return None
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret.from_plaintext(value)
    raise TypeError(f"An encrypted field takes a str or a Secret, not {type(value).__name__}.")


class _EncryptOnAssign(DeferredAttribute):
    def __set__(self, instance: models.Model, value: object) -> None:
        instance.__dict__[self.field.attname] = to_secret(value)


class EncryptedSecretField(models.TextField):
    """Nullable text column holding a Fernet token; NULL means "no secret"."""

    descriptor_class = _EncryptOnAssign

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        return None if value is None else Secret(value)

    def to_python(self, value: object) -> Secret | None:
        # A string reaching to_python is stored data (deserialisation, dumpdata's
        # ciphertext), never typed plaintext: wrap the token, do not encrypt it again.
        if isinstance(value, str):
            return Secret(value) if value else None
        return to_secret(value)

    def get_prep_value(self, value: object) -> str | None:
        secret = to_secret(value)
        return None if secret is None else secret.token

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata) carries the ciphertext, never the plaintext.
        secret = self.value_from_object(obj)
        return "" if secret is None else secret.token

    def formfield(self, **kwargs: Any) -> Any:
        from emailconfig.forms.secrets import SecretFormField

        return super().formfield(**{"form_class": SecretFormField, **kwargs})

    def save_form_data(self, instance: models.Model, data: Any) -> None:
        from emailconfig.forms.secrets import CLEAR_STORED_SECRET, KEEP_STORED_SECRET

        if data is KEEP_STORED_SECRET:
            return
        setattr(instance, self.attname, None if data is CLEAR_STORED_SECRET else data)
