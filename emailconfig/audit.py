"""Writing the audit trail: one entry per action, in the action's own transaction.

Services call `record` inside their transaction, so an action and its entry commit (or
roll back) together. Views hand services an `Actor` made from the request, carrying the
client's address; a service also takes a plain user (tests, scripts), then without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from emailconfig.client_address import client_address as address_of
from emailconfig.models import AdminToken, ApiToken, AuditAction, AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (with the address the request came from), an app's API token, an
    administrator token, or a command."""

    user: AbstractBaseUser | None
    name: str
    address: str | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        return cls.for_user(request.user, address=client_address(request))

    @classmethod
    def for_user(cls, user: Any, *, address: str | None = None) -> Actor:
        if user is None or isinstance(user, AnonymousUser):
            return cls(None, "", address)
        return cls(user, user.get_username(), address)

    @classmethod
    def command(cls, name: str) -> Actor:
        return cls(None, f"manage.py {name}")

    @classmethod
    def token(cls, credential: ApiToken, request: HttpRequest) -> Actor:
        """An app acting through the API with one of its tokens, named by its prefix."""
        name = f"API token {credential.prefix}… ({credential.app.slug}/{credential.stage.slug})"
        return cls(None, name[:150], client_address(request))

    @classmethod
    def admin_token(cls, credential: AdminToken, request: HttpRequest) -> Actor:
        """A script acting through the admin API for the token's owner, who is named as the
        author of what it changes."""
        owner = credential.owner
        name = f"{owner.get_username()} (admin token {credential.prefix}…)"
        return cls(owner, name[:150], client_address(request))


Who = Actor | AbstractBaseUser | None


def actor(who: Who) -> Actor:
    return who if isinstance(who, Actor) else Actor.for_user(who)


def client_address(request: HttpRequest) -> str | None:
    """The address sign-in protection counts too (STAGEMAIL_TRUSTED_PROXY_COUNT applies)."""
    return address_of(request) or None


def record(
    who: Who,
    action: AuditAction,
    target: object = "",
    *,
    stage: object = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry; call it inside the transaction of the action it describes."""
    by = actor(who)
    return AuditEntry.objects.create(
        actor=by.name,
        address=by.address,
        action=action,
        target=str(target)[:300],
        stage=str(stage or "")[:100],
        details=details or {},
    )


def form_changes(form: forms.ModelForm, *, values: bool = True) -> list[dict[str, str]]:
    """The fields a valid form changes, with their old and new values unless `values` is off
    (long texts such as a template's body)."""
    changes = []
    for name in form.changed_data:
        change = {"field": str(form.fields[name].label or name)}
        if values:
            change["old"] = str(form.initial.get(name, ""))
            change["new"] = str(form.cleaned_data[name])
        changes.append(change)
    return changes
