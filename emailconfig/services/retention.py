"""Removing finished messages after STAGEMAIL_RETENTION_DAYS (0 keeps them forever).

Only finished messages go (sent, failed, cancelled), with their attempts (attachments
live in the message's own bytes); a message still waiting or being sent is never
removed, however old.

A batch is two set-based statements, attempts then messages, in one transaction:
Django's cascade would load every message into Python first. The database cannot
cascade by itself here (models.DB_CASCADE), because Django refuses database-level
deletes in a chain where Message's own foreign keys are protected in Python.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from emailconfig.models import PENDING_STATUSES, DeliveryAttempt, Message

BATCH = 5000  # messages a batch removes, so a large backlog never holds locks for long


def expired(days: int, now: datetime | None = None) -> QuerySet[Message]:
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Message.objects.filter(created_at__lt=cutoff).exclude(status__in=PENDING_STATUSES)


def purge_batch(days: int, now: datetime | None = None) -> int:
    """Delete up to BATCH expired messages and their attempts; returns how many went."""
    with transaction.atomic():
        # Locked, so an admin's retry of one of them waits and then finds it gone.
        ids = list(
            expired(days, now)
            .select_for_update(skip_locked=True)
            .order_by()
            .values_list("pk", flat=True)[:BATCH]
        )
        if ids:
            DeliveryAttempt.objects.filter(message_id__in=ids).delete()
            Message.objects.filter(pk__in=ids).delete()
    return len(ids)


def purge(days: int, now: datetime | None = None) -> int:
    """Delete every expired message, a batch at a time; returns how many went."""
    total = 0
    while removed := purge_batch(days, now):
        total += removed
    return total
