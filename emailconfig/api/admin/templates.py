"""Email templates: list, get, create and edit through the portal's template form.

Templates serve every stage, so changing one takes a write token reaching every stage.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import TemplateIn, TemplateOut
from emailconfig.api.admin.scope import access, actor, allow, form_refusal, found
from emailconfig.forms.templates import EmailTemplateForm
from emailconfig.models import EmailTemplate
from emailconfig.services import templates as services

router = Router(tags=["templates"])
FIELDS = ("key", "name", "subject", "text_body", "html_body", "sample_data")


def _out(template: EmailTemplate) -> dict[str, Any]:
    return {
        **{name: getattr(template, name) for name in FIELDS},
        "updated_at": template.updated_at,
        "updated_by": template.updated_by.get_username() if template.updated_by else None,
    }


@router.get(
    "",
    response=answers.reading(list[TemplateOut]),
    url_name="admin_templates",
    operation_id="admin_list_templates",
    summary="Every template",
)
def list_templates(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(t) for t in EmailTemplate.objects.select_related("updated_by")]


@router.post(
    "",
    response=answers.writing(TemplateOut, created=True),
    operation_id="admin_create_template",
    summary="Create a template (checked and rendered with its sample data, as in the portal)",
)
def create_template(request: HttpRequest, payload: TemplateIn) -> tuple[int, dict[str, Any]]:
    return Status(201, _save(request, EmailTemplate(), payload))


@router.get(
    "/{key}",
    response=answers.reading(TemplateOut, found=True),
    url_name="admin_template",
    operation_id="admin_get_template",
    summary="One template",
)
def get_template(request: HttpRequest, key: str) -> dict[str, Any]:
    return _out(found(EmailTemplate.objects.all(), "template", key=key))


@router.patch(
    "/{key}",
    response=answers.writing(TemplateOut, found=True),
    operation_id="admin_edit_template",
    summary="Edit a template: the fields to change",
)
def edit_template(request: HttpRequest, key: str, payload: TemplateIn) -> dict[str, Any]:
    return _save(request, found(EmailTemplate.objects.all(), "template", key=key), payload)


def _save(request: HttpRequest, template: EmailTemplate, payload: TemplateIn) -> dict[str, Any]:
    allow(request, access(request).edits_every_stage)
    data = {name: getattr(template, name) for name in FIELDS}
    data.update(payload.model_dump(exclude_unset=True))
    data["sample_data"] = json.dumps(data["sample_data"] or {})
    form = EmailTemplateForm(data, instance=template)
    if not form.is_valid():
        raise form_refusal(form)
    return _out(services.save(form, by=actor(request)))
