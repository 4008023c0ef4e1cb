"""Figures for the home page: deliveries per stage and day (from the daily roll-up), the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from emailconfig.models import PENDING_STATUSES, DailyDeliveryCount, Message, Stage

DAYS = 14
CHART_WIDTH, CHART_HEIGHT, AXIS = 560, 120, 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class DayCounts:
    day: date
    sent: int
    failed: int


@dataclass
class StageActivity:
    stage: Stage
    days: list[DayCounts]
    queued: int
    oldest_queued: datetime | None

    @property
    def sent(self) -> int:
        return sum(d.sent for d in self.days)

    @property
    def failed(self) -> int:
        return sum(d.failed for d in self.days)

    def bars(self) -> list[tuple[Bar, Bar]]:
        """Pairs of (sent, failed) bars in SVG coordinates, scaled to the busiest day."""
        peak = max([d.sent for d in self.days] + [d.failed for d in self.days] + [1])
        slot = CHART_WIDTH / len(self.days)
        width = slot * 0.38
        usable = CHART_HEIGHT - AXIS
        pairs = []
        for index, day in enumerate(self.days):
            x = index * slot + slot * 0.1
            pairs.append(
                tuple(
                    Bar(
                        x=round(x + offset, 1),
                        y=round(usable - usable * count / peak, 1),
                        width=round(width, 1),
                        height=round(usable * count / peak, 1),
                        label=f"{day.day:%b %-d}: {count} {kind}",
                    )
                    for offset, count, kind in (
                        (0, day.sent, "sent"),
                        (width, day.failed, "failed"),
                    )
                )
            )
        return pairs  # type: ignore[return-value]

    def day_labels(self) -> list[tuple[float, str]]:
        slot = CHART_WIDTH / len(self.days)
        return [(round(i * slot + slot / 2, 1), f"{d.day:%-d}") for i, d in enumerate(self.days)]


def activity(stages: QuerySet[Stage], now: datetime | None = None) -> list[StageActivity]:
    """For each of `stages` (those the viewer sees)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=DAYS - 1)
    counts = {
        (row.stage_id, row.day): row
        for row in DailyDeliveryCount.objects.filter(day__gte=first, stage__in=stages)
    }
    queue = {
        row["stage_id"]: row
        for row in Message.objects.filter(status__in=PENDING_STATUSES, stage__in=stages)
        .values("stage_id")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
    }
    result = []
    for stage in stages:
        days = []
        for day in (first + timedelta(days=i) for i in range(DAYS)):
            row = counts.get((stage.pk, day))
            days.append(DayCounts(day, row.sent if row else 0, row.failed if row else 0))
        pending = queue.get(stage.pk, {})
        result.append(StageActivity(stage, days, pending.get("n", 0), pending.get("oldest")))
    return result
