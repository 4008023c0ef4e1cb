"""Read-side queries that feed the portal's tables, each in a fixed number of SQL queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Max, Prefetch

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


def configurations_with_usage() -> list[EmailConfiguration]:
    """Configurations annotated with `current_number`, `apps_using` and `apps_behind`."""
    configurations = list(
        EmailConfiguration.objects.annotate(current_number=Max("versions__number"))
        .prefetch_related(
            Prefetch("coverages", queryset=StageCoverage.objects.select_related("stage"))
        )
        .order_by("name")
    )
    using: Counter[int] = Counter()
    behind: Counter[int] = Counter()
    for applied in AppliedConfiguration.objects.with_latest_number().select_related("version"):
        using[applied.version.configuration_id] += 1
        behind[applied.version.configuration_id] += applied.is_behind
    for configuration in configurations:
        configuration.apps_using = using[configuration.pk]
        configuration.apps_behind = behind[configuration.pk]
    return configurations


def applied_with_latest() -> AppliedQuerySet:
    return AppliedConfiguration.objects.with_latest_number().select_related(
        "app", "stage", "version", "version__configuration", "applied_by"
    )


@dataclass
class StageRow:
    """One stage of an app: what is applied, and what could be applied."""

    stage: Stage
    applied: AppliedConfiguration | None
    available: ConfigurationVersion | None  # latest version of the covering configuration
    active_tokens: int = 0

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
    """The newest version of the configuration covering each stage."""
    latest: dict[int, ConfigurationVersion] = {}
    coverages = StageCoverage.objects.select_related("configuration")
    versions = ConfigurationVersion.objects.filter(
        configuration__in=[c.configuration_id for c in coverages]
    ).order_by("configuration", "-number")
    newest: dict[int, ConfigurationVersion] = {}
    for version in versions:
        newest.setdefault(version.configuration_id, version)
    for coverage in coverages:
        if coverage.configuration_id in newest:
            latest[coverage.stage_id] = newest[coverage.configuration_id]
    return latest


def stage_rows(app: App) -> list[StageRow]:
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
        )
        for stage in Stage.objects.all()
    ]


def apps_with_status() -> list[App]:
    """Apps annotated with `applied_rows` (per stage, ordered) and `behind_count`."""
    apps = list(App.objects.order_by("name"))
    by_app: dict[int, list[AppliedConfiguration]] = {}
    for applied in applied_with_latest():
        by_app.setdefault(applied.app_id, []).append(applied)
    for app in apps:
        app.applied_rows = by_app.get(app.pk, [])
        app.behind_count = sum(a.is_behind for a in app.applied_rows)
    return apps
