"""Stages: list, add, rename, reorder, mark production, delete when unused."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from emailconfig.audit import Actor
from emailconfig.forms.catalogue import MoveForm, StageForm
from emailconfig.models import Stage
from emailconfig.services import stages as stage_services
from emailconfig.views.guards import (
    access,
    administrator_required,
    allow,
    member_required,
    seen_stage,
)

SECTION = "stages"


@member_required
def stage_list(request: HttpRequest) -> HttpResponse:
    # Explicit order: Django leaves Meta.ordering out of queries that aggregate.
    stages = (
        access(request)
        .stages()
        .select_related("coverage__configuration")
        .annotate(apps=Count("applied"))
        .order_by("order", "name")
    )
    return render(request, "emailconfig/stages/list.html", {"section": SECTION, "stages": stages})


@administrator_required
def stage_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, Stage(order=stage_services.next_order()))


@member_required
def stage_edit(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit(request, _administered_stage(request, slug))


def _administered_stage(request: HttpRequest, slug: str) -> Stage:
    stage = seen_stage(request, slug)
    allow(access(request).administrator)
    return stage


def _edit(request: HttpRequest, stage: Stage) -> HttpResponse:
    adding = stage._state.adding
    form = StageForm(request.POST if request.method == "POST" else None, instance=stage)
    if form.is_valid():
        stage_services.save(form, by=Actor.of(request))
        messages.success(request, f"{'Added' if adding else 'Saved'} stage {stage}.")
        return redirect("emailconfig:stage_list")
    return render(
        request,
        "emailconfig/stages/form.html",
        {"section": SECTION, "form": form, "adding": adding, "stage": stage},
    )


@require_POST
@member_required
def stage_move(request: HttpRequest, slug: str) -> HttpResponse:
    stage = _administered_stage(request, slug)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("direction must be up or down")
    direction = form.cleaned_data["direction"]
    stage_services.move(stage, up=direction == "up", by=Actor.of(request))
    messages.success(request, f"Moved {stage} {direction}.")
    return redirect("emailconfig:stage_list")


@member_required
def stage_delete(request: HttpRequest, slug: str) -> HttpResponse:
    stage = _administered_stage(request, slug)
    if request.method == "POST":
        try:
            stage_services.delete(stage, by=Actor.of(request))
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, f"Deleted stage {stage}.")
        return redirect("emailconfig:stage_list")
    return render(
        request, "emailconfig/stages/delete_confirm.html", {"section": SECTION, "stage": stage}
    )
