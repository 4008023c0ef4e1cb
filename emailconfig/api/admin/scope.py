"""What an administrator token may reach, asked of emailconfig/access.py at every request.

An object of a stage outside the token's reach answers 404, as it would in the portal; one
it sees but may not change answers 403 (always, for a read token).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja.security import HttpBearer

from emailconfig.access import Access
from emailconfig.audit import Actor
from emailconfig.models import AdminToken, Stage
from emailconfig.services import admin_tokens
from emailconfig.services.outbox import ApiError


class AdminBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AdminToken | None:
        credential = admin_tokens.authenticate(token)
        if credential is not None:
            stage_ids = credential.stages.values_list("pk", flat=True)
            credential.access = Access.of(credential.owner).narrowed(
                stage_ids, write=credential.writes
            )
        return credential


def access(request: HttpRequest) -> Access:
    return request.auth.access  # type: ignore[attr-defined]


def actor(request: HttpRequest) -> Actor:
    return Actor.admin_token(request.auth, request)  # type: ignore[arg-type]


def allow(request: HttpRequest, condition: bool) -> None:
    if condition:
        return
    if not request.auth.writes:  # type: ignore[attr-defined]
        raise ApiError(403, "forbidden", "This token may only read.")
    raise ApiError(403, "forbidden", "This token, or its owner, may not change this.")


def found[Found: Model](queryset: QuerySet[Found], what: str, **lookup: Any) -> Found:
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise ApiError(404, "not_found", f"No such {what} within this token's stages.")
    return obj


def seen_stage(request: HttpRequest, slug: str) -> Stage:
    return found(access(request).stages(), "stage", slug=slug)


def edited_stage(request: HttpRequest, slug: str) -> Stage:
    stage = seen_stage(request, slug)
    allow(request, access(request).edits(stage))
    return stage


def form_refusal(form: Any) -> ApiError:
    """A form's errors as the API's 400: each under its field, the others under `body`."""
    fields = {
        "body" if name == "__all__" else name: [str(m) for m in messages]
        for name, messages in form.errors.items()
    }
    return ApiError(400, "validation_error", "The request is not valid.", fields)
