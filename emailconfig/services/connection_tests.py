"""The connection test, counted per user: it connects wherever a configuration says, so an
editor may run only so many a minute (STAGEMAIL_CONNECTION_TESTS_PER_MINUTE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.delivery import DeliverySettings
from emailconfig.engines import Step, engine_for
from emailconfig.models import AuditAction, ConnectionTestWindow

_COUNT_IN_WINDOW = """
    INSERT INTO emailconfig_connectiontestwindow (user_id, window_start, count)
    VALUES (%s, %s, 1)
    ON CONFLICT (user_id, window_start)
    DO UPDATE SET count = emailconfig_connectiontestwindow.count + 1
    RETURNING count
"""


def test_connection(delivery: DeliverySettings, *, user: Who) -> list[Step]:
    """Run the connection test's steps, once the user's limit allows another test.

    Raises ValidationError (code "rate_limited") when it does not; nothing connects then.
    The audit entry is written once the steps are done, with their outcome.
    """
    _count(audit.actor(user).user)
    engine = engine_for(delivery)
    steps = engine.check_connection()
    audit.record(
        user,
        AuditAction.CONNECTION_TEST,
        delivery.label,
        details={
            "engine": delivery.engine,
            "host": engine.destination(),
            "ok": all(step.ok for step in steps),
            "steps": [{"name": s.name, "ok": s.ok, "answer": s.answer} for s in steps],
        },
    )
    return steps


@transaction.atomic
def _count(user: Any) -> None:
    """Count this test in its minute; over the limit, the count rolls back with the refusal.

    One statement counts, so tests from several processes at once are each counted. The
    first test of a minute also removes the user's earlier minutes.
    """
    window = ConnectionTestWindow.start_of(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_IN_WINDOW, [user.pk, connection.ops.adapt_datetimefield_value(window)]
        )
        count = cursor.fetchone()[0]
    if count == 1:
        ConnectionTestWindow.objects.filter(user=user, window_start__lt=window).delete()
    limit = settings.STAGEMAIL_CONNECTION_TESTS_PER_MINUTE
    if count > limit:
        noun = "test" if limit == 1 else "tests"
        raise ValidationError(
            f"You have run {limit} connection {noun} this minute, the most allowed "
            "(STAGEMAIL_CONNECTION_TESTS_PER_MINUTE); try again in "
            f"{60 - timezone.now().second} seconds.",
            code="rate_limited",
        )
