"""Stage verbs: reorder and delete, with the reasons a stage cannot go."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from emailconfig.models import AppliedConfiguration, Stage, StageCoverage


@transaction.atomic
def move(stage: Stage, *, up: bool) -> None:
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


def next_order() -> int:
    last = Stage.objects.order_by("-order").values_list("order", flat=True).first()
    return (last or 0) + 10


@transaction.atomic
def delete(stage: Stage) -> None:
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
    stage.delete()
