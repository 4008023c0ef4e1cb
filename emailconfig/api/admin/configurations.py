"""Configurations: list, get, versions, diff, create and edit through the portal's form."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Status

from emailconfig import versions
from emailconfig.api.admin import answers
from emailconfig.api.admin.configuration_body import ConfigurationIn, posted
from emailconfig.api.admin.schemas import (
    ConfigurationOut,
    DiffOut,
    RestoreIn,
    SavedOut,
    VersionOut,
)
from emailconfig.api.admin.scope import access, actor, allow, form_refusal, found
from emailconfig.engines import options_of
from emailconfig.forms.configurations import ConfigurationForm, RestoreForm
from emailconfig.models import ConfigurationVersion, DeliverySettings, EmailConfiguration
from emailconfig.services import configurations as services
from emailconfig.services.outbox import ApiError

router = Router(tags=["configurations"])


def _settings(source: DeliverySettings) -> tuple[dict[str, Any], dict[str, dict[str, bool]]]:
    """The settings, and of each of the engine's secrets only whether one is stored: secrets
    are write-only."""
    values = source.setting_values()
    settings = {name: value for name, value in values.items() if not versions.is_secret(name)}
    options_class = options_of(source.engine)
    secrets = {
        options_class.field_name(option): {"stored": option in source.secrets}
        for option in (options_class.option_names() if options_class else [])
        if options_class.is_secret(option)
    }
    return settings, secrets


def configuration_out(configuration: EmailConfiguration) -> dict[str, Any]:
    settings, secrets = _settings(configuration)
    latest = configuration.latest_version()
    return {
        "id": configuration.pk,
        "name": configuration.name,
        "stages": [c.stage.slug for c in configuration.coverages.select_related("stage")],
        "version": latest.number if latest else None,
        "settings": settings,
        "secrets": secrets,
        "test_recipients": [r.as_dict() for r in configuration.test_recipients.all()],
    }


def _version_out(version: ConfigurationVersion) -> dict[str, Any]:
    settings, secrets = _settings(version)
    return {
        "id": version.pk,
        "number": version.number,
        "name": version.name,
        "stages": version.stage_names,
        "created_at": version.created_at,
        "created_by": version.created_by.get_username() if version.created_by else None,
        "settings": settings,
        "secrets": secrets,
        "test_recipients": version.test_recipients,
    }


def _seen(request: HttpRequest, configuration_id: int) -> EmailConfiguration:
    return found(access(request).configurations(), "configuration", pk=configuration_id)


@router.get(
    "",
    response=answers.reading(list[ConfigurationOut]),
    url_name="admin_configurations",
    operation_id="admin_list_configurations",
    summary="Configurations covering the token's stages (and drafts covering none)",
)
def list_configurations(request: HttpRequest) -> list[dict[str, Any]]:
    seen = access(request).configurations().order_by("name")
    return [configuration_out(c) for c in seen.prefetch_related("test_recipients")]


@router.post(
    "",
    response=answers.writing(SavedOut, created=True),
    operation_id="admin_create_configuration",
    summary="Create a configuration (the form's fields; a production stage needs confirm_stage)",
)
def create_configuration(request: HttpRequest, payload: ConfigurationIn) -> tuple[int, Any]:
    allow(request, access(request).edits_somewhere)
    return Status(201, _save(request, EmailConfiguration(), payload))


@router.get(
    "/{configuration_id}",
    response=answers.reading(ConfigurationOut, found=True),
    url_name="admin_configuration",
    operation_id="admin_get_configuration",
    summary="A configuration as it is now (secrets only as stored or not)",
)
def get_configuration(request: HttpRequest, configuration_id: int) -> dict[str, Any]:
    return configuration_out(_seen(request, configuration_id))


@router.patch(
    "/{configuration_id}",
    response=answers.writing(SavedOut, found=True, conflict=True),
    operation_id="admin_edit_configuration",
    summary="Edit a configuration: the fields to change and based_on, the version edited",
)
def edit_configuration(
    request: HttpRequest, configuration_id: int, payload: ConfigurationIn
) -> dict[str, Any]:
    configuration = _seen(request, configuration_id)
    allow(request, access(request).edits_configuration(configuration))
    if payload.based_on is None:
        raise ApiError(
            400,
            "validation_error",
            "The request is not valid.",
            {"based_on": ["Send the number of the version this edit starts from."]},
        )
    return _save(request, configuration, payload)


def _save(request: HttpRequest, configuration: EmailConfiguration, payload: Any) -> dict[str, Any]:
    body = payload.model_dump(exclude_unset=True)
    form = ConfigurationForm(
        posted(configuration, body, access(request)),
        instance=configuration,
        access=access(request),
    )
    if not form.is_valid():
        raise _refusal(form)
    version = form.save_version(author=actor(request))
    if form.errors:
        stale = any(e.code == "stale" for e in form.non_field_errors().as_data())
        if stale:
            raise ApiError(409, "stale", " ".join(form.non_field_errors()))
        raise _refusal(form)
    configuration.refresh_from_db()
    return {
        "configuration": configuration_out(configuration),
        "new_version": version.number if version else None,
        "notes": form.removed,
    }


def _refusal(form: ConfigurationForm) -> ApiError:
    refusal = form_refusal(form)
    for number, errors in enumerate(form.test_list.errors):
        for name, messages in errors.items():
            refusal.fields[f"test_recipients[{number}].{name}"] = list(messages)
    if form.test_list.non_form_errors():
        refusal.fields["test_recipients"] = list(form.test_list.non_form_errors())
    return refusal


@router.get(
    "/{configuration_id}/versions",
    response=answers.reading(list[VersionOut], found=True),
    operation_id="admin_list_versions",
    summary="A configuration's versions, newest first",
)
def list_versions(request: HttpRequest, configuration_id: int) -> list[dict[str, Any]]:
    configuration = _seen(request, configuration_id)
    history = configuration.versions.select_related("created_by").order_by("-number")
    return [_version_out(v) for v in history]


@router.get(
    "/{configuration_id}/diff",
    response=answers.reading(DiffOut, found=True),
    operation_id="admin_diff_versions",
    summary="What changed between two versions (secrets only as changed)",
)
def diff_versions(
    request: HttpRequest, configuration_id: int, from_version: int, to_version: int
) -> dict[str, Any]:
    configuration = _seen(request, configuration_id)
    older = found(configuration.versions, "version", number=from_version)
    newer = found(configuration.versions, "version", number=to_version)
    changes = versions.diff(older, newer)
    return {
        "from_version": from_version,
        "to_version": to_version,
        "changes": [{"field": c.label, "old": c.old, "new": c.new} for c in changes],
    }


@router.post(
    "/{configuration_id}/versions/{number}/make-current",
    response=answers.writing(SavedOut, found=True, conflict=True),
    operation_id="admin_make_version_current",
    summary="Roll back: record a new version equal to an older one (name and stages stay)",
)
def make_current(
    request: HttpRequest, configuration_id: int, number: int, payload: RestoreIn
) -> dict[str, Any]:
    configuration = _seen(request, configuration_id)
    allow(request, access(request).edits_configuration(configuration))
    version = found(configuration.versions, "version", number=number)
    form = RestoreForm(payload.model_dump(), configuration=configuration)
    if not form.is_valid():
        raise form_refusal(form)
    try:
        restored = services.restore_version(
            configuration, version, by=actor(request), based_on=form.cleaned_data["based_on"]
        )
    except ValidationError as exc:
        code = "stale" if exc.code == "stale" else "refused"
        raise ApiError(409, code, " ".join(exc.messages)) from None
    configuration.refresh_from_db()
    return {
        "configuration": configuration_out(configuration),
        "new_version": restored.number if restored else None,
        "notes": [],
    }
