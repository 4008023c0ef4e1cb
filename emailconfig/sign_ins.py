"""Sign-ins in the audit trail: Django's (and django-axes', when installed) signals."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from emailconfig import audit
from emailconfig.audit import Actor
from emailconfig.models import AuditAction


def _stranger(request: HttpRequest | None) -> Actor:
    """Whoever is trying: nobody is signed in yet."""
    return Actor(None, "", audit.client_address(request) if request else None)


def signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    who = Actor.for_user(user, address=audit.client_address(request) if request else None)
    audit.record(who, AuditAction.SIGN_IN, user.get_username())


def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already replaced the password in `credentials` with stars; only the
    # username tried is kept.
    audit.record(_stranger(request), AuditAction.SIGN_IN_FAILED, credentials.get("username", ""))


def locked_out(sender: Any, request: HttpRequest | None, username: str, **kwargs: Any) -> None:
    audit.record(_stranger(request), AuditAction.SIGN_IN_LOCKED_OUT, username or "")


def connect() -> None:
    user_logged_in.connect(signed_in, dispatch_uid="stagemail_audit_sign_in")
    user_login_failed.connect(sign_in_failed, dispatch_uid="stagemail_audit_sign_in_failed")
    if apps.is_installed("axes"):
        from axes.signals import user_locked_out

        user_locked_out.connect(locked_out, dispatch_uid="stagemail_audit_locked_out")
