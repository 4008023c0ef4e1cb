"""Key rotation: re-encrypt every stored secret with the first key."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from emailconfig import audit, crypto
from emailconfig.audit import Who
from emailconfig.fields import EncryptedSecretField, EncryptedSecretsField, Secret
from emailconfig.models import AuditAction


def encrypted_fields() -> list[tuple[type, str]]:
    """Every (model, field name) that stores a secret, in every installed app."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedSecretField | EncryptedSecretsField)
    ]


def _rotated(stored: Secret | dict[str, Secret]) -> Secret | dict[str, Secret]:
    if isinstance(stored, dict):
        return {option: Secret(crypto.rotate(secret.token)) for option, secret in stored.items()}
    return Secret(crypto.rotate(stored.token))


@transaction.atomic
def rotate_all_secrets(*, by: Who) -> dict[str, int]:
    """Rotate all secrets; any unreadable one aborts the whole rotation, changing nothing."""
    counts: dict[str, int] = {}
    for model, name in encrypted_fields():
        rows = model._base_manager.select_for_update().exclude(**{f"{name}__isnull": True})
        changed = 0
        for pk, stored in rows.values_list("pk", name).iterator():
            if not stored:
                continue  # an empty mapping of secrets
            model._base_manager.filter(pk=pk).update(**{name: _rotated(stored)})
            changed += 1
        counts[f"{model._meta.label}.{name}"] = changed
    audit.record(by, AuditAction.KEYS_ROTATED, "Stored secrets", details={"re_encrypted": counts})
    return counts
