"""Apps: list, get, register, and apply (or re-apply) a version on a stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Status

from emailconfig import queries
from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import AppIn, AppliedOut, ApplyIn, AppOut, Page
from emailconfig.api.admin.scope import access, actor, allow, edited_stage, form_refusal, found
from emailconfig.forms.catalogue import AppForm, ApplyForm
from emailconfig.models import App, AppliedConfiguration
from emailconfig.services import configurations as services
from emailconfig.services.outbox import ApiError

router = Router(tags=["apps"])


def _applied_out(applied: AppliedConfiguration) -> dict[str, Any]:
    """An applied row of queries.applied_with_latest (which says whether it is behind)."""
    return {
        "stage": applied.stage.slug,
        "configuration_id": applied.version.configuration_id,
        "version_id": applied.version_id,
        "version": applied.version.number,
        "pinned": applied.pinned,
        "behind": applied.is_behind,
    }


def _out(app: App) -> dict[str, Any]:
    return {
        "slug": app.slug,
        "name": app.name,
        "description": app.description,
        "applied": [_applied_out(a) for a in app.applied_rows],
    }


def _listed(request: HttpRequest, apps: Sequence[App]) -> list[dict[str, Any]]:
    return [_out(app) for app in queries.with_applied_rows(apps, access(request))]


@router.get(
    "",
    response=answers.reading(list[AppOut]),
    url_name="admin_apps",
    operation_id="admin_list_apps",
    summary="Every app, with what is applied on the token's stages",
)
def list_apps(request: HttpRequest, page: Query[Page]) -> list[dict[str, Any]]:
    apps = App.objects.order_by("name")[page.offset : page.offset + page.limit]
    return _listed(request, list(apps))


@router.post(
    "",
    response=answers.writing(AppOut, created=True),
    operation_id="admin_create_app",
    summary="Register an app",
)
def create_app(request: HttpRequest, payload: AppIn) -> tuple[int, dict[str, Any]]:
    allow(request, access(request).edits_somewhere)
    form = AppForm(payload.model_dump(), instance=App())
    if not form.is_valid():
        raise form_refusal(form)
    return Status(201, _listed(request, [form.save()])[0])


@router.get(
    "/{slug}",
    response=answers.reading(AppOut, found=True),
    url_name="admin_app",
    operation_id="admin_get_app",
    summary="One app",
)
def get_app(request: HttpRequest, slug: str) -> dict[str, Any]:
    return _listed(request, [found(App.objects.all(), "app", slug=slug)])[0]


@router.post(
    "/{slug}/stages/{stage}/apply",
    response=answers.writing(AppliedOut, found=True, conflict=True),
    operation_id="admin_apply",
    summary="Apply (or re-apply) a version to an app on a stage; an older one pins the app",
)
def apply(request: HttpRequest, slug: str, stage: str, payload: ApplyIn) -> dict[str, Any]:
    app = found(App.objects.all(), "app", slug=slug)
    where = edited_stage(request, stage)
    form = ApplyForm(payload.model_dump(), stage=where, access=access(request))
    if not form.is_valid():
        raise form_refusal(form)
    version = form.cleaned_data["version"]
    try:
        applied = services.apply_version(app, where, version, by=actor(request))
    except ValidationError as exc:
        raise ApiError(409, "not_applicable", " ".join(exc.messages)) from None
    return _applied_out(queries.applied_with_latest().get(pk=applied.pk))
