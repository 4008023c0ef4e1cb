"""Apps' API tokens on a stage: list, issue (the token returned once), rotate, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import IssuedOut, RotateIn, TokenOut
from emailconfig.api.admin.scope import actor as acting
from emailconfig.api.admin.scope import edited_stage, found, seen_stage
from emailconfig.models import ApiToken, App
from emailconfig.services import tokens

router = Router(tags=["app tokens"])
PATH = "/{slug}/stages/{stage}/tokens"


def _out(credential: ApiToken, token: str | None = None) -> dict[str, Any]:
    out = {
        "id": credential.pk,
        "prefix": credential.prefix,
        "created_at": credential.created_at,
        "created_by": credential.created_by.get_username() if credential.created_by else None,
        "expires_at": credential.expires_at,
        "revoked_at": credential.revoked_at,
        "last_used_at": credential.last_used_at,
    }
    return out if token is None else {**out, "token": token}


def _app(slug: str) -> App:
    return found(App.objects.all(), "app", slug=slug)


@router.get(
    PATH,
    response=answers.reading(list[TokenOut], found=True),
    url_name="admin_app_tokens",
    operation_id="admin_list_app_tokens",
    summary="An app's tokens on a stage (prefixes only)",
)
def list_tokens(request: HttpRequest, slug: str, stage: str) -> list[dict[str, Any]]:
    where = seen_stage(request, stage)
    app = _app(slug)
    credentials = ApiToken.objects.filter(app=app, stage=where).select_related("created_by")
    return [_out(c) for c in credentials]


@router.post(
    PATH,
    response=answers.writing(IssuedOut, created=True, found=True),
    operation_id="admin_issue_app_token",
    summary="Issue a token for an app on a stage; the answer holds it, this once",
)
def issue_token(request: HttpRequest, slug: str, stage: str) -> tuple[int, dict[str, Any]]:
    where = edited_stage(request, stage)
    credential, token = tokens.issue(_app(slug), where, by=acting(request))
    return Status(201, _out(credential, token))


@router.post(
    PATH + "/rotate",
    response=answers.writing(IssuedOut, created=True, found=True),
    operation_id="admin_rotate_app_tokens",
    summary="Issue a new token; the active old ones keep working for grace_seconds",
)
def rotate_tokens(
    request: HttpRequest, slug: str, stage: str, payload: RotateIn
) -> tuple[int, dict[str, Any]]:
    where = edited_stage(request, stage)
    app = _app(slug)
    grace = timedelta(seconds=payload.grace_seconds)
    credential, token = tokens.rotate(app, where, grace=grace, by=acting(request))
    return Status(201, _out(credential, token))


@router.post(
    PATH + "/{token_id}/revoke",
    response=answers.writing(TokenOut, found=True),
    operation_id="admin_revoke_app_token",
    summary="Revoke a token (again: no change)",
)
def revoke_token(request: HttpRequest, slug: str, stage: str, token_id: int) -> dict[str, Any]:
    where = edited_stage(request, stage)
    app = _app(slug)
    credential = found(ApiToken.objects.filter(app=app, stage=where), "token", pk=token_id)
    tokens.revoke(credential, by=acting(request))
    credential.refresh_from_db()
    return _out(credential)
