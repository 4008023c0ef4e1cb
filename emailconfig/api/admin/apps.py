"""Apps: list, get, register, and apply (or re-apply) a version on a stage."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router

from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import AppIn, AppliedOut, ApplyIn, AppOut
from emailconfig.api.admin.scope import access, actor, allow, edited_stage, form_refusal, found
from emailconfig.forms.catalogue import AppForm, ApplyForm
from emailconfig.models import App, AppliedConfiguration
from emailconfig.services import configurations as services
from emailconfig.services.outbox import ApiError

router = Router(tags=["apps"])


def _applied_out(applied: AppliedConfiguration, newest: dict[int, int]) -> dict[str, Any]:
    version = applied.version
    return {
        "stage": applied.stage.slug,
        "configuration_id": version.configuration_id,
        "version_id": version.pk,
        "version": version.number,
        "pinned": applied.pinned,
        "behind": not applied.pinned and newest[version.configuration_id] > version.number,
    }


def _out(request: HttpRequest, app: App) -> dict[str, Any]:
    applied = list(
        AppliedConfiguration.objects.filter(app=app, stage__in=access(request).stages())
        .select_related("stage", "version")
        .order_by("stage__order", "stage__name")
    )
    newest = {
        a.version.configuration_id: (
            a.version.configuration.latest_version().number  # type: ignore[union-attr]
        )
        for a in applied
    }
    return {
        "slug": app.slug,
        "name": app.name,
        "description": app.description,
        "applied": [_applied_out(a, newest) for a in applied],
    }


@router.get(
    "",
    response=answers.reading(list[AppOut]),
    url_name="admin_apps",
    operation_id="admin_list_apps",
    summary="Every app, with what is applied on the token's stages",
)
def list_apps(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(request, app) for app in App.objects.order_by("name")]


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
    return 201, _out(request, form.save())


@router.get(
    "/{slug}",
    response=answers.reading(AppOut, found=True),
    url_name="admin_app",
    operation_id="admin_get_app",
    summary="One app",
)
def get_app(request: HttpRequest, slug: str) -> dict[str, Any]:
    return _out(request, found(App.objects.all(), "app", slug=slug))


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
    newest = version.configuration.latest_version()
    return _applied_out(applied, {version.configuration_id: newest.number})
