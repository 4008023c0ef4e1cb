"""People and their roles: adding a person, a role on a stage, being an administrator, being
able to sign in at all; each change in the audit trail."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from emailconfig import audit
from emailconfig.access import Access
from emailconfig.audit import Who
from emailconfig.models import AuditAction, Stage, StageGrant, StageRole

ADMINISTRATOR = "administrator"
NO_ROLE = ""


@transaction.atomic
def add_person(user: Any, *, by: Who) -> str:
    """Save a new `user` (unsaved, from the form) with a generated password, returned to be
    shown once: nobody else ever sees it, and the person changes it under Password."""
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save()
    audit.record(by, AuditAction.PERSON_ADDED, user.get_username())
    return password


@transaction.atomic
def set_roles(
    user: Any,
    *,
    administrator: bool,
    stage_roles: Mapping[Stage, str],
    active: bool = True,
    by: Who,
) -> int:
    """Give `user` exactly these roles (`NO_ROLE` removes one) and let them sign in or not;
    returns how many things changed.

    Refused if it would leave the portal without an active administrator.
    """
    people = get_user_model().objects
    # The administrators first, always in the same order: two administrators removing each
    # other at once wait for each other, and the second sees the first's change.
    list(people.filter(is_superuser=True).order_by("pk").select_for_update())
    user = people.select_for_update().get(pk=user.pk)
    changed = 0
    if user.is_active != active:
        if not active and user.is_superuser:
            keep_an_administrator(user)
        user.is_active = active
        user.save(update_fields=["is_active"])
        action = AuditAction.PERSON_REACTIVATED if active else AuditAction.PERSON_DEACTIVATED
        audit.record(by, action, user.get_username())
        changed += 1
    if user.is_superuser != administrator:
        if not administrator:
            keep_an_administrator(user)
        user.is_superuser = user.is_staff = administrator  # staff: Django's admin lets them in
        user.save(update_fields=["is_superuser", "is_staff"])
        record_administrator(user, administrator, by=by)
        changed += 1
    held = {grant.stage_id: grant for grant in user.stage_grants.select_for_update()}
    for stage, role in stage_roles.items():
        grant = held.get(stage.pk)
        before = grant.role if grant else NO_ROLE
        if role == before:
            continue
        if role == NO_ROLE:
            grant.delete()
            _record(by, AuditAction.ROLE_REMOVED, user, stage, role=before)
        elif grant:
            grant.role = role
            grant.save(update_fields=["role"])
            _record(by, AuditAction.ROLE_GRANTED, user, stage, role=role, was=before)
        else:
            StageGrant.objects.create(user=user, stage=stage, role=role)
            _record(by, AuditAction.ROLE_GRANTED, user, stage, role=role)
        changed += 1
    Access.forget(user)
    return changed


def record_administrator(user: Any, administrator: bool, *, by: Who) -> None:
    """Call it in the transaction that made or unmade the administrator."""
    action = AuditAction.ROLE_GRANTED if administrator else AuditAction.ROLE_REMOVED
    audit.record(by, action, user.get_username(), details={"role": ADMINISTRATOR})


def keep_an_administrator(leaving: Any) -> None:
    """Refuse, as a ValidationError, to let `leaving` stop being an active administrator if
    no other would remain."""
    others = get_user_model().objects.filter(is_superuser=True, is_active=True)
    if not others.exclude(pk=leaving.pk).exists():
        raise ValidationError(
            "At least one active administrator must remain: make someone else an "
            "administrator first.",
            code="last_administrator",
        )


def _record(by: Who, action: AuditAction, user: Any, stage: Stage, **details: str) -> None:
    details = {key: StageRole(value).label for key, value in details.items()}
    audit.record(by, action, user.get_username(), stage=stage, details=details)
