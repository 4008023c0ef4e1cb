"""The dashboard's daily roll-up: messages that ended sent or failed, per stage and day.

Whoever writes a message's final status adds it here in the same transaction, one
set-based upsert for a whole batch, so the chart reads 14 rows per stage instead of
counting messages (which grows without bound). A day is the local date on which the
message was accepted, as the chart shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from django.db import connection
from django.utils import timezone

from emailconfig.models import DailyDeliveryCount, Message, MessageStatus

Finished = tuple[Message, str]  # a message and the status just written for it


def record(finished: Iterable[Finished], *, change: int = 1) -> None:
    """Count messages that became sent or failed (`change=-1` takes them back, on retry).

    Other statuses are ignored, so callers may pass every result of a batch.
    """
    totals: Counter[tuple[int, date, str]] = Counter()
    for message, status in finished:
        if status in (MessageStatus.SENT, MessageStatus.FAILED):
            totals[message.stage_id, timezone.localdate(message.created_at), status] += change
    if not totals:
        return
    rows: dict[tuple[int, date], list[int]] = {}
    for (stage_id, day, status), n in totals.items():
        counts = rows.setdefault((stage_id, day), [0, 0])
        counts[status == MessageStatus.FAILED] += n
    table = connection.ops.quote_name(DailyDeliveryCount._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    # Rows in key order: two workers upserting the same days cannot deadlock.
    params = [
        value
        for (stage_id, day), (sent, failed) in sorted(rows.items())
        for value in (stage_id, connection.ops.adapt_datefield_value(day), sent, failed)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stage_id, day, sent, failed) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (stage_id, day) DO UPDATE SET sent = {table}.sent + excluded.sent, "
            f"failed = {table}.failed + excluded.failed",
            params,
        )
