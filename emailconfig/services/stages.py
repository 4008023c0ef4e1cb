"""Stage verbs: reorder and delete, with the reasons a stage cannot go."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.models import AppliedConfiguration, AuditAction, Stage, StageCoverage


@transaction.atomic
def save(form: forms.ModelForm, *, by: Who) -> Stage:
    """Save a valid stage form: a new stage, or the changes to one."""
    adding = form.instance._state.adding
    changes = audit.form_changes(form)
    stage = form.save()
    audit.record(
        by,
        AuditAction.STAGE_CREATED if adding else AuditAction.STAGE_EDITED,
        stage,
        stage=stage,
        details={} if adding else {"changes": changes},
    )
    return stage


@transaction.atomic
def move(stage: Stage, *, up: bool, by: Who) -> None:
    """Swap a stage with its neighbour; orders are renumbered so ties cannot stick."""
    stages = list(Stage.objects.select_for_update().order_by("order", "name"))
    index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
    target = index - 1 if up else index + 1
    if 0 <= target < len(stages):
        stages[index], stages[target] = stages[target], stages[index]
    for position, each in enumerate(stages, start=1):
        if each.order != position * 10:
            each.order = position * 10
            each.save(update_fields=["order"])
    audit.record(
        by, AuditAction.STAGE_MOVED, stage, stage=stage, details={"to": "up" if up else "down"}
    )


def next_order() -> int:
    last = Stage.objects.order_by("-order").values_list("order", flat=True).first()
    return (last or 0) + 10


@transaction.atomic
def delete(stage: Stage, *, by: Who) -> None:
    reasons = [
        f"“{c.configuration}” covers it"
        for c in StageCoverage.objects.filter(stage=stage).select_related("configuration")
    ] + [
        f"{a.app} has a configuration applied there"
        for a in AppliedConfiguration.objects.filter(stage=stage).select_related("app")
    ]
    if reasons:
        raise ValidationError(
            f"{stage} is in use and cannot be deleted: {'; '.join(reasons)}.", code="in_use"
        )
    audit.record(by, AuditAction.STAGE_DELETED, stage, stage=stage)
    stage.delete()
