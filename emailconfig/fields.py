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


def to_secrets(value: object) -> dict[str, Secret]:
    """Normalise what may be assigned to an encrypted mapping: names to secrets, empty
    values left out."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"Encrypted secrets are a dict, not {type(value).__name__}.")
    return {name: secret for name, item in value.items() if (secret := to_secret(item))}


class _EncryptMappingOnAssign(DeferredAttribute):
    def __set__(self, instance: models.Model, value: object) -> None:
        instance.__dict__[self.field.attname] = to_secrets(value)


class EncryptedSecretsField(models.JSONField):
    """A JSON object of named secrets, each its own Fernet token; read as {name: Secret}.

    The names (an engine's secret options) are plain; only the values are encrypted, each
    alone, so a key rotation and a comparison work per secret.
    """

    descriptor_class = _EncryptMappingOnAssign

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    @staticmethod
    def _tokens(value: object) -> dict[str, str]:
        return {name: secret.token for name, secret in to_secrets(value).items()}

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> dict[str, Secret]:
        tokens = super().from_db_value(value, expression, connection)
        return {name: Secret(token) for name, token in (tokens or {}).items()}

    def to_python(self, value: object) -> dict[str, Secret]:
        # Stored data (deserialisation) holds tokens: wrap them, never encrypt them again.
        if isinstance(value, dict):
            return {
                name: item if isinstance(item, Secret) else Secret(item)
                for name, item in value.items()
                if item
            }
        return to_secrets(value)

    def get_prep_value(self, value: object) -> Any:
        return super().get_prep_value(self._tokens(value))

    def validate(self, value: object, model_instance: models.Model | None) -> None:
        super().validate(self._tokens(value), model_instance)

    def value_to_string(self, obj: models.Model) -> Any:
        return self._tokens(self.value_from_object(obj))

    def formfield(self, **kwargs: Any) -> None:
        return None  # edited through an engine's own secret inputs, never as JSON
