"""Removing finished messages after STAGEMAIL_RETENTION_DAYS (0 keeps them forever).

Only finished messages go (sent, failed, cancelled), with their attempts (attachments
live in the message's own bytes); a message still waiting or being sent is never
removed, however old.

A batch is set-based: on PostgreSQL one statement deletes the batch's attempts and
messages; elsewhere two, attempts then messages, in one transaction. Django's cascade
loaded every message into Python first. The database cannot cascade by itself here
(models.DB_CASCADE): Django refuses database-level deletes in a chain where Message's
own foreign keys are protected in Python (PROTECT), which they should stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from emailconfig.models import PENDING_STATUSES, DeliveryAttempt, Message

BATCH = 5000  # messages a batch removes, so a large backlog never holds locks for long


def expired(days: int, now: datetime | None = None) -> QuerySet[Message]:
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Message.objects.filter(created_at__lt=cutoff).exclude(status__in=PENDING_STATUSES)


def purge_batch(days: int, now: datetime | None = None) -> int:
    """Delete up to BATCH expired messages and their attempts; returns how many went.

    The batch is locked (SKIP LOCKED), so an admin's retry of one of them waits and
    then finds it gone.
    """
    with transaction.atomic():
        doomed = (
            expired(days, now)
            .select_for_update(skip_locked=True)
            .order_by()
            .values_list("pk", flat=True)[:BATCH]
        )
        if connection.vendor == "postgresql":
            return _purge_in_one_statement(doomed)
        ids = list(doomed)
        DeliveryAttempt.objects.filter(message_id__in=ids).delete()
        Message.objects.filter(pk__in=ids).delete()
    return len(ids)


_ONE_STATEMENT = """
    WITH doomed (pk) AS ({doomed}),
    attempts AS (DELETE FROM {attempts} WHERE {message_id} IN (SELECT pk FROM doomed))
    DELETE FROM {messages} WHERE {id} IN (SELECT pk FROM doomed)
"""


def _purge_in_one_statement(doomed: QuerySet[Message, object]) -> int:
    """PostgreSQL: one statement selects the batch and deletes both tables from the same
    snapshot, without sending a thousand ids back and forth (which took most of the time)."""
    sql, params = doomed.query.sql_with_params()
    quote = connection.ops.quote_name
    statement = _ONE_STATEMENT.format(
        doomed=sql,
        attempts=quote(DeliveryAttempt._meta.db_table),
        message_id=quote(DeliveryAttempt._meta.get_field("message").column),
        messages=quote(Message._meta.db_table),
        id=quote(Message._meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def purge(days: int, now: datetime | None = None) -> int:
    """Delete every expired message, a batch at a time; returns how many went."""
    total = 0
    while removed := purge_batch(days, now):
        total += removed
    return total
