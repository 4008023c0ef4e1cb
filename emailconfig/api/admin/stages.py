"""Stages: the ones the token reaches, and whether it may change things there."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import StageOut
from emailconfig.api.admin.scope import access, seen_stage
from emailconfig.models import Stage

router = Router(tags=["stages"])


def _out(request: HttpRequest, stage: Stage) -> dict[str, Any]:
    return {
        "slug": stage.slug,
        "name": stage.name,
        "is_production": stage.is_production,
        "order": stage.order,
        "editable": access(request).edits(stage),
    }


@router.get(
    "",
    response=answers.reading(list[StageOut]),
    url_name="admin_stages",
    operation_id="admin_list_stages",
    summary="The stages this token reaches, in order",
)
def list_stages(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(request, stage) for stage in access(request).stages()]


@router.get(
    "/{slug}",
    response=answers.reading(StageOut, found=True),
    url_name="admin_stage",
    operation_id="admin_get_stage",
    summary="One stage",
)
def get_stage(request: HttpRequest, slug: str) -> dict[str, Any]:
    return _out(request, seen_stage(request, slug))
