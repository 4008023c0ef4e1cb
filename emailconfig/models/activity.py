"""Deliveries counted per stage and day, so the dashboard never counts messages."""

from __future__ import annotations

from django.db import models

from emailconfig.models.configurations import Stage


class DailyDeliveryCount(models.Model):
    """Messages accepted on `day` (local date) that ended sent or failed, kept by the workers.

    Not a foreign key to the messages: the counts outlive retention's purge, so the
    chart keeps its 14 days whatever STAGEMAIL_RETENTION_DAYS says.
    """

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "day"], name="daily_count_once_per_stage_day")
        ]

    def __str__(self) -> str:
        return f"{self.stage} {self.day}: {self.sent} sent, {self.failed} failed"
