"""Roles in the audit trail: what a user holds, and an entry per role granted or removed."""

from __future__ import annotations

from typing import Any

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.models import AuditAction
from emailconfig.roles import SUPERUSER


def held_by(user: Any) -> set[str]:
    """The roles a saved user holds: their groups, and "superuser" if so."""
    held = set(user.groups.values_list("name", flat=True)) if user.pk else set()
    return held | ({SUPERUSER} if user.is_superuser else set())


def record_changes(user: Any, *, before: set[str], after: set[str], by: Who) -> None:
    """One entry per role granted or removed; call it in the transaction that changed them."""
    for role in sorted(after - before):
        audit.record(by, AuditAction.ROLE_GRANTED, user.get_username(), details={"role": role})
    for role in sorted(before - after):
        audit.record(by, AuditAction.ROLE_REMOVED, user.get_username(), details={"role": role})
