"""Removing audit entries after STAGEMAIL_AUDIT_RETENTION_DAYS (0 keeps them forever).

On PostgreSQL the append-only trigger lets a DELETE through only for entries older
than the cut-off declared in the same transaction; the purge declares it (SET LOCAL,
so it ends with the transaction) and deletes exactly those entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from emailconfig.models import AuditEntry


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


@transaction.atomic
def purge(days: int, now: datetime | None = None) -> int:
    """Delete the entries older than `days`; returns how many went."""
    before = cutoff(days, now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('stagemail.audit_purge_before', %s, true)",
                [before.isoformat()],
            )
    removed, _ = AuditEntry.objects.filter(at__lt=before).delete()
    return removed
