"""The audit trail: who did what, when and from where. Rows are only ever added.

On PostgreSQL a trigger (migration 0011) refuses UPDATE and DELETE, except the
retention purge's DELETE of rows older than the cut-off it declares in its own
transaction (emailconfig/services/audit_retention.py).
"""

from __future__ import annotations

import json

from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_IN_LOCKED_OUT = "sign_in_locked_out", "Locked out"
    CONFIGURATION_CREATED = "configuration_created", "Configuration created"
    CONFIGURATION_EDITED = "configuration_edited", "Configuration edited"
    APPLIED = "applied", "Configuration applied"
    REAPPLIED = "reapplied", "Configuration re-applied"
    STAGE_CREATED = "stage_created", "Stage created"
    STAGE_EDITED = "stage_edited", "Stage edited"
    STAGE_MOVED = "stage_moved", "Stage moved"
    STAGE_DELETED = "stage_deleted", "Stage deleted"
    TEMPLATE_CREATED = "template_created", "Template created"
    TEMPLATE_EDITED = "template_edited", "Template edited"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_ROTATED = "token_rotated", "Tokens rotated"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    ADMIN_TOKEN_ISSUED = "admin_token_issued", "Administrator token issued"
    ADMIN_TOKEN_REVOKED = "admin_token_revoked", "Administrator token revoked"
    ROLE_GRANTED = "role_granted", "Role granted"
    ROLE_REMOVED = "role_removed", "Role removed"
    PERSON_ADDED = "person_added", "Person added"
    PERSON_DEACTIVATED = "person_deactivated", "Person deactivated"
    PERSON_REACTIVATED = "person_reactivated", "Person reactivated"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    SECOND_FACTOR_SET_UP = "second_factor_set_up", "Two-factor sign-in set up"
    TEST_SEND = "test_send", "Test-send"
    CONNECTION_TEST = "connection_test", "Connection test"
    MESSAGE_RETRIED = "message_retried", "Message retried"
    MESSAGE_CANCELLED = "message_cancelled", "Message cancelled"
    KEYS_ROTATED = "keys_rotated", "Encryption keys rotated"


class AuditEntry(models.Model):
    """One action. Names are copied, not linked: the entry outlives what it names."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="A username, or the command that acted.")
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target = models.CharField(max_length=300, blank=True)
    stage = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        default_permissions = ("view",)  # nobody adds, changes or deletes entries by hand
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor}: {self.get_action_display()} {self.target}"
        )

    def detail_lines(self) -> list[str]:
        """The details as short lines for people: a change per line, a step per line."""
        lines = []
        for key, value in self.details.items():
            if key == "changes":
                lines += [
                    f"{c['field']}: {c['old']} → {c['new']}"
                    if "new" in c
                    else f"{c['field']} changed"
                    for c in value
                ]
            elif key == "steps":
                lines += [f"{s['name']}: {'ok' if s['ok'] else s['answer']}" for s in value]
            elif isinstance(value, bool):
                lines.append(f"{key.replace('_', ' ').capitalize()}: {'yes' if value else 'no'}")
            elif value is not None:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                lines.append(f"{key.replace('_', ' ').capitalize()}: {text}")
        return lines
