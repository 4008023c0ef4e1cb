"""Removing finished messages after STAGEMAIL_RETENTION_DAYS (0 keeps them forever).

Only finished messages go (sent, failed, cancelled), with their attempts and
attachments; a message still waiting or being sent is never removed, however old.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from emailconfig.models import PENDING_STATUSES, Message

BATCH = 1000  # rows a statement deletes, so a large backlog never holds locks for long


def expired(days: int, now: datetime | None = None) -> QuerySet[Message]:
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Message.objects.filter(created_at__lt=cutoff).exclude(status__in=PENDING_STATUSES)


def purge_batch(days: int, now: datetime | None = None) -> int:
    """Delete up to BATCH expired messages; returns how many went."""
    ids = list(expired(days, now).order_by().values_list("pk", flat=True)[:BATCH])
    if ids:
        Message.objects.filter(pk__in=ids).delete()  # attempts and attachments cascade
    return len(ids)


def purge(days: int, now: datetime | None = None) -> int:
    """Delete every expired message, a batch at a time; returns how many went."""
    total = 0
    while removed := purge_batch(days, now):
        total += removed
    return total
