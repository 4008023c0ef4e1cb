"""Read-side queries that feed the portal's tables, each in a fixed number of SQL queries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, F, Max, OuterRef, Prefetch, Subquery, Window
from django.db.models.functions import RowNumber

from emailconfig.access import Access
from emailconfig.models import (
    ApiToken,
    App,
    AppliedConfiguration,
    AppliedQuerySet,
    ConfigurationVersion,
    EmailConfiguration,
    Stage,
    StageCoverage,
)


def configurations_with_usage(access: Access) -> list[EmailConfiguration]:
    """The configurations one sees, with `current_number`, and `apps_using` and `apps_behind`
    counted on the stages one sees."""
    configurations = list(
        access.configurations()
        .annotate(current_number=Max("versions__number"))
        .prefetch_related(
            Prefetch("coverages", queryset=StageCoverage.objects.select_related("stage"))
        )
        .order_by("name")
    )
    usage = AppliedConfiguration.objects.filter(stage__in=access.stages()).tally(
        "version__configuration"
    )
    for configuration in configurations:
        counts = usage.get(configuration.pk, {})
        configuration.apps_using = counts.get("using", 0)
        configuration.apps_behind = counts.get("behind", 0)
    return configurations


def applied_with_latest() -> AppliedQuerySet:
    """Applied rows with what the pages show of them (versions are wide; lists are long)."""
    return (
        AppliedConfiguration.objects.with_latest_number()
        .select_related("app", "stage", "version__configuration", "applied_by")
        .only(
            *(f.name for f in AppliedConfiguration._meta.concrete_fields),
            *(f"stage__{f.name}" for f in Stage._meta.concrete_fields),
            "app__name",
            "app__slug",
            "version__number",
            "version__configuration__name",
            "applied_by__username",
        )
    )


@dataclass
class StageRow:
    """One stage of an app: what is applied, and what could be applied."""

    stage: Stage
    applied: AppliedConfiguration | None
    available: ConfigurationVersion | None  # latest version of the covering configuration
    active_tokens: int = 0
    editable: bool = False

    @property
    def action(self) -> str | None:
        if self.available is None:
            return None
        if self.applied is None:
            return "apply"
        if self.applied.version.configuration_id != self.available.configuration_id:
            return "apply"
        if self.applied.version.number < self.available.number:
            return "reapply"
        return None


def latest_versions_by_stage() -> dict[int, ConfigurationVersion]:
    """The newest version (with its configuration) of the configuration covering each stage."""
    newest = (
        ConfigurationVersion.objects.filter(configuration=OuterRef("configuration"))
        .order_by("-number")
        .values("number")[:1]
    )
    versions = (
        ConfigurationVersion.objects.annotate(covers=F("configuration__coverages__stage"))
        .filter(covers__isnull=False, number=Subquery(newest))
        .select_related("configuration")
    )
    return {version.covers: version for version in versions}


def stage_rows(app: App, access: Access) -> list[StageRow]:
    """The app on each stage one sees."""
    applied = {a.stage_id: a for a in applied_with_latest().filter(app=app)}
    available = latest_versions_by_stage()
    token_counts: Counter[int] = Counter()
    for credential in ApiToken.objects.filter(app=app, revoked_at=None):
        token_counts[credential.stage_id] += credential.is_active
    return [
        StageRow(
            stage=stage,
            applied=applied.get(stage.pk),
            available=available.get(stage.pk),
            active_tokens=token_counts[stage.pk],
            editable=access.edits(stage),
        )
        for stage in access.stages()
    ]


def with_applied_rows(apps: Sequence[App], access: Access) -> Sequence[App]:
    """Give a page of apps their `applied_rows` (on the stages one sees) and `behind_count`,
    in one query."""
    by_app: dict[int, list[AppliedConfiguration]] = {}
    ids = [app.pk for app in apps]  # evaluates (and caches) the page's query
    seen = applied_with_latest().filter(app__in=ids, stage__in=access.stages())
    for applied in seen.order_by("stage__order"):
        by_app.setdefault(applied.app_id, []).append(applied)
    for app in apps:
        app.applied_rows = by_app.get(app.pk, [])
        app.behind_count = sum(applied.is_behind for applied in app.applied_rows)
    return apps


def behind_by_stage(first: int) -> dict[int, tuple[int, list[AppliedConfiguration]]]:
    """Per stage: how many apps are behind, and `first` of them (the earliest registered)."""
    ranked = (
        AppliedConfiguration.objects.behind()
        .order_by()  # the default ordering would join apps and stages for nothing
        .annotate(
            rank=Window(RowNumber(), partition_by=F("stage"), order_by=F("app_id").asc()),
            total=Window(Count("pk"), partition_by=F("stage")),
        )
        .filter(rank__lte=first)
        .values_list("pk", "total")
    )
    totals = dict(ranked)
    result: dict[int, tuple[int, list[AppliedConfiguration]]] = {}
    shown = applied_with_latest().filter(pk__in=totals).order_by("stage__order", "app__name")
    for applied in shown:
        result.setdefault(applied.stage_id, (totals[applied.pk], []))[1].append(applied)
    return result
