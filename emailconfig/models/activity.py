"""Counters: deliveries per stage and day (the dashboard never counts messages), and
connection tests per user and minute (their rate limit)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
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


class ConnectionTestWindow(models.Model):
    """Connection tests a user ran in one minute, for STAGEMAIL_CONNECTION_TESTS_PER_MINUTE."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "window_start"], name="connection_test_window_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.window_start:%H:%M}: {self.count}"

    @staticmethod
    def start_of(moment: datetime) -> datetime:
        """The window a moment falls in: its minute."""
        return moment.replace(second=0, microsecond=0)
