"""The two groups an admin hands out: viewers read everything, editors change it."""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps

VIEWERS = "Stagemail viewers"
EDITORS = "Stagemail editors"
SUPERUSER = "superuser"  # not a group, but the role that can do everything


def ensure_groups(*, apps: Any = global_apps, **kwargs: Any) -> None:
    """Create or complete both groups; run after every migrate, so new models are included."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="emailconfig")
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.add(*ours.filter(codename__startswith="view_"))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.add(*ours)


def record_changes(user: Any, *, before: set[str], after: set[str], by: Any) -> None:
    """One audit entry per role granted or removed (a group, or "superuser")."""
    from emailconfig import audit
    from emailconfig.models import AuditAction

    for role in sorted(after - before):
        audit.record(by, AuditAction.ROLE_GRANTED, user.get_username(), details={"role": role})
    for role in sorted(before - after):
        audit.record(by, AuditAction.ROLE_REMOVED, user.get_username(), details={"role": role})


def held_by(user: Any) -> set[str]:
    """The roles a saved user holds: their groups, and "superuser" if so."""
    held = set(user.groups.values_list("name", flat=True)) if user.pk else set()
    return held | ({SUPERUSER} if user.is_superuser else set())
