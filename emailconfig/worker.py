"""The delivery worker: claims due messages in batches, delivers them, records every attempt.

Each message owns its lease. Claiming sets `status=sending`, a `lease_until`
and a new `lease_token` (on PostgreSQL with FOR UPDATE SKIP LOCKED, so workers
never wait for each other). A result is written only if the token is still the
one claimed (fencing): a worker whose lease ran out cannot overwrite the work of
the worker that took the message over. Expired leases and due retries are
simply "due", so any worker re-drives them; nothing else needs to run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Event

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DatabaseError,
    Error,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from emailconfig import rollup
from emailconfig.composer import WireMessage
from emailconfig.delivery import DeliverySettings
from emailconfig.engines import DeliveryResult, Engine, MessageError, engine_for
from emailconfig.models import (
    PENDING_STATUSES,
    WAITING_STATUSES,
    ConfigurationVersion,
    DeliveryAttempt,
    Message,
    MessageStatus,
    Outcome,
)
from emailconfig.services import audit_retention, retention

log = logging.getLogger("stagemail.worker")

FLUSH_EVERY = 50  # results written at least this often (messages)
FLUSH_SECONDS = 1.0  # ... and at least this often (seconds)
ENGINE_IDLE_SECONDS = 30.0
PURGE_EVERY_SECONDS = 3600.0  # how often expired messages are looked for (retention)
RECONNECT_SECONDS = 5.0
WRITE_RETRY_MAX_SECONDS = 5.0  # longest pause between tries to write results
STOP_WRITE_SECONDS = 30.0  # once stopping, how long results are still tried (see run())


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the server asked."""
    ceiling = min(settings.STAGEMAIL_RETRY_MAX, settings.STAGEMAIL_RETRY_BASE * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not security)
    return max(delay, retry_after or 0.0)


@dataclass
class Claimed:
    message: Message
    token: int


@dataclass
class Done:
    claimed: Claimed
    result: DeliveryResult
    started_at: datetime


def claim(batch_size: int) -> list[Claimed]:
    """Take up to `batch_size` due messages for this worker: those whose lease ran out
    (few, and late already), then waiting ones, the soonest due first.

    Two queries rather than one with OR: each is an ordered index scan that stops at the
    batch's size (`message_due` and `message_waiting`), where an OR of both made PostgreSQL
    read and sort every due row of a backlog, and never reads messages scheduled later.
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.STAGEMAIL_LEASE_SECONDS)
    lockable = Message.objects.select_for_update(skip_locked=True)
    with transaction.atomic():
        abandoned = lockable.filter(status=MessageStatus.SENDING, lease_until__lt=now)
        ids = list(abandoned.order_by("lease_until").values_list("pk", flat=True)[:batch_size])
        if len(ids) < batch_size:
            waiting = lockable.filter(status__in=WAITING_STATUSES, next_attempt_at__lte=now)
            ids += waiting.order_by("next_attempt_at").values_list("pk", flat=True)[
                : batch_size - len(ids)
            ]
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.SENDING,
            lease_until=lease_until,
            lease_token=F("lease_token") + 1,
            attempt_count=F("attempt_count") + 1,
        )
        claimed = Message.objects.filter(pk__in=ids).order_by("version_id", "next_attempt_at")
        messages = list(claimed)
        _attach_versions(messages)
    return [Claimed(m, m.lease_token) for m in messages]


def _attach_versions(messages: list[Message]) -> None:
    """Give messages of one version one shared instance of it, loaded once.

    Versions are immutable; a join would ship and parse the version's columns once per
    message instead.
    """
    versions = ConfigurationVersion.objects.in_bulk({m.version_id for m in messages})
    for message in messages:
        message.version = versions[message.version_id]


def wire(message: Message) -> WireMessage:
    """The message's stored bytes and envelope; after a partial delivery, the envelope
    names only the recipients still to be tried (the bytes stay the same).

    Raises MessageError when what is stored cannot be sent at all.
    """
    raw, recipients = bytes(message.raw), message.final_recipients
    if not raw:
        raise MessageError("Nothing to send: the message has no stored bytes.")
    if not recipients:
        raise MessageError("Nothing to send: the message has no recipient.")
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise MessageError(f"The stored recipients are not a list of addresses: {recipients!r}")
    stored = WireMessage(raw, message.envelope_from, tuple(recipients))
    return stored.to_only(message.remaining_recipients) if message.remaining_recipients else stored


def _still_held(claimed: list[Claimed]) -> set[object]:
    """Lock the rows whose lease this worker still holds; the others were taken over.

    Fencing: a row whose token moved on (its lease expired and another worker claimed
    it, or an admin cancelled it) belongs to its new holder. Rows are locked in key
    order, so two workers locking overlapping rows cannot deadlock.
    """
    tokens = {c.message.pk: c.token for c in claimed}
    rows = (
        Message.objects.select_for_update()
        .filter(pk__in=tokens, status=MessageStatus.SENDING)
        .order_by("pk")
        .values_list("pk", "lease_token")
    )
    return {pk for pk, token in rows if tokens[pk] == token}


def _renewal_due(claimed: Claimed, now: datetime) -> bool:
    """Whether a flush renews this lease: once half of it has run out.

    Renewing rewrites the message's row and every index on it; with half a lease left
    (150 s by default) against a flush at least every FLUSH_SECONDS, renewing sooner
    only costs.
    """
    half = timedelta(seconds=settings.STAGEMAIL_LEASE_SECONDS / 2)
    return claimed.message.lease_until is None or claimed.message.lease_until - now < half


def _pending() -> bool:
    return Message.objects.filter(status__in=PENDING_STATUSES).exists()


def _report_unwritten(done: list[Done], error: Exception) -> None:
    """Loudly: these messages were tried (most of them delivered) and will be again."""
    log.error(
        "results of %d messages could not be written (%s); they will be sent again when "
        "their lease ends:\n%s",
        len(done),
        " ".join(str(error).split()),
        "\n".join(
            f"  {item.claimed.message.pk} {item.claimed.message.message_id}: "
            f"{item.result.outcome} {item.result.answer}"
            for item in done
        ),
    )


class Worker:
    def __init__(self, *, batch_size: int = 100, name: str | None = None) -> None:
        self.batch_size = batch_size
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._engines: dict[int, tuple[Engine, float]] = {}
        self._next_purge = 0.0  # time.monotonic() of the next look for expired messages
        self._next_audit_purge = 0.0  # and for expired audit entries
        self.stop = Event()  # run()'s; once set, unwritten results are tried for a while only

    # The loop -----------------------------------------------------------------

    def run(self, stop: Event, *, poll_seconds: float = 0.5, until_done: bool = False) -> None:
        """Deliver until `stop` is set (or, with `until_done`, until nothing is pending)."""
        self.stop = stop
        log.info("worker %s started", self.name)
        try:
            while not stop.is_set():
                try:
                    claimed = self.run_once()
                    self._purge_when_due()
                    self._purge_audit_when_due()
                    if until_done and not claimed and not _pending():
                        break
                except Error:
                    # The database went away (restart, failover) while claiming: what this
                    # worker delivered is written already (see _record); wait, reconnect.
                    log.exception("worker %s lost the database; retrying", self.name)
                    connection.close()
                    stop.wait(RECONNECT_SECONDS)
                    continue
                if not claimed:
                    self._close_idle_engines()
                if claimed < self.batch_size // 2:
                    # A thin stream: wait a moment so the next claim takes a fuller batch,
                    # instead of spending a claim and a write per message.
                    stop.wait(poll_seconds)
        finally:
            self.close()
            log.info("worker %s stopped", self.name)

    def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many messages were claimed.

        Returns only once every result is written (or, when stopping, given up on), so
        the next claim never comes before them.
        """
        batch = claim(self.batch_size)
        pending: list[Done] = []
        last_flush = time.monotonic()
        broken_versions: dict[int, DeliveryResult] = {}
        lost: set[object] = set()
        for index, claimed in enumerate(batch):
            if claimed.message.pk in lost:
                continue
            pending.append(self._deliver(claimed, broken_versions))
            if len(pending) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                lost |= self._record(pending, batch[index + 1 :])
                pending, last_flush = [], time.monotonic()
        if pending:
            self._record(pending, [])
        return len(batch)

    def _purge_when_due(self) -> None:
        """Remove expired messages (STAGEMAIL_RETENTION_DAYS), a batch per turn of the loop
        so deliveries go on meanwhile, then rest for an hour."""
        days = settings.STAGEMAIL_RETENTION_DAYS
        if days <= 0 or time.monotonic() < self._next_purge:
            return
        if retention.purge_batch(days) < retention.BATCH:
            self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS

    def _purge_audit_when_due(self) -> None:
        """Remove audit entries older than STAGEMAIL_AUDIT_RETENTION_DAYS, once an hour."""
        days = settings.STAGEMAIL_AUDIT_RETENTION_DAYS
        if days <= 0 or time.monotonic() < self._next_audit_purge:
            return
        audit_retention.purge(days)
        self._next_audit_purge = time.monotonic() + PURGE_EVERY_SECONDS

    def close(self) -> None:
        for engine, _ in self._engines.values():
            engine.close()
        self._engines.clear()

    # Delivery -----------------------------------------------------------------

    def _deliver(self, claimed: Claimed, broken: dict[int, DeliveryResult]) -> Done:
        message = claimed.message
        started_at = timezone.now()
        if message.version_id in broken:  # its server just failed to connect; don't wait again
            return Done(claimed, broken[message.version_id], started_at)
        try:  # this message's own data, and its version's (immutable): it alone fails, for good
            stored = wire(message)
            engine = self._engine(message.version)
        except Exception as exc:
            if not isinstance(exc, MessageError):
                log.exception("message %s or its configuration version cannot be read", message.pk)
                exc = MessageError(
                    "The stored message or its configuration version cannot be read "
                    f"({type(exc).__name__})."
                )
            return Done(claimed, DeliveryResult.failed(exc, 0), started_at)
        result = engine.send(stored)
        if result.connection_failed:
            broken[message.version_id] = result
        return Done(claimed, result, started_at)

    def _engine(self, version: ConfigurationVersion) -> Engine:
        """The version's engine, kept between messages; its settings are read only when
        it is made, since a version never changes."""
        engine, _ = self._engines.get(version.pk, (None, 0.0))
        if engine is None:
            engine = engine_for(DeliverySettings.from_version(version))
        self._engines[version.pk] = (engine, time.monotonic())
        return engine

    def _close_idle_engines(self) -> None:
        now = time.monotonic()
        for version_id, (engine, used) in list(self._engines.items()):
            if now - used > ENGINE_IDLE_SECONDS:
                engine.close()
                del self._engines[version_id]

    # Recording ----------------------------------------------------------------

    def _record(self, done: list[Done], rest: list[Claimed]) -> set[object]:
        """`_flush`, again and again while the database cannot be reached.

        The results are in memory only: lost, their messages would be sent again when
        their lease ends. So a dropped connection is closed and opened anew, with a
        growing pause, until the write goes through; writing again is harmless (see
        `_flush`). Once the worker is stopping, it tries for STOP_WRITE_SECONDS, then
        names every message whose result it could not write and gives up the batch.
        """
        pause, give_up_at, again = 0.1, None, False
        while True:
            try:
                return self._flush(done, rest, again=again)
            except (OperationalError, InterfaceError) as exc:
                connection.close()
                if self.stop.is_set():
                    give_up_at = give_up_at or time.monotonic() + STOP_WRITE_SECONDS
                    if time.monotonic() >= give_up_at:
                        _report_unwritten(done, exc)
                        return {c.message.pk for c in rest}
                log.warning(
                    "worker %s could not write %d results (%s); trying again in %.1f s",
                    self.name,
                    len(done),
                    " ".join(str(exc).split()),
                    pause,
                )
                time.sleep(pause)  # not stop.wait(): a stop must not end the tries at once
                pause, again = min(pause * 2, WRITE_RETRY_MAX_SECONDS), True
            except DatabaseError as exc:  # not the connection: trying again cannot help
                _report_unwritten(done, exc)
                raise

    def _flush(self, done: list[Done], rest: list[Claimed], *, again: bool = False) -> set[object]:
        """Write results and attempts, and renew the leases of the rest of the batch that
        are half gone (see `_renewal_due`).

        Results are fenced by lease token; every attempt is recorded, since it happened
        either way. Returns the messages of `rest` whose lease was lost, not to be sent.
        Writing the same results `again` (the first write's commit may have landed with
        its answer lost) changes nothing: a message no longer `sending` under this
        worker's token is not held, and the attempts already on record are left out.
        """
        now = timezone.now()
        with transaction.atomic():
            held = _still_held([item.claimed for item in done] + rest)
            recorded = self._recorded(done) if again else set()
            # Most results in a batch are alike ("sent"), so one UPDATE covers each kind.
            alike: dict[str, tuple[dict[str, object], list[object]]] = {}
            finished: list[rollup.Finished] = []
            for item in done:
                pk = item.claimed.message.pk
                if pk not in held:
                    log.warning("lease of %s was lost; its result is left to the new holder", pk)
                    continue
                fields = self._result_fields(item, now)
                finished.append((item.claimed.message, str(fields["status"])))
                key = json.dumps(fields, sort_keys=True, cls=DjangoJSONEncoder)
                alike.setdefault(key, (fields, []))[1].append(pk)
            for fields, pks in alike.values():
                Message.objects.filter(pk__in=pks).update(**fields)
            _insert_attempts(
                self._attempt(item)
                for item in done
                if (item.claimed.message.pk, item.claimed.message.attempt_count) not in recorded
            )
            renewed = [c.message for c in rest if c.message.pk in held and _renewal_due(c, now)]
            lease_until = now + timedelta(seconds=settings.STAGEMAIL_LEASE_SECONDS)
            if renewed:
                Message.objects.filter(pk__in=[m.pk for m in renewed]).update(
                    lease_until=lease_until
                )
            rollup.record(finished)  # last: the day's counter row stays locked until commit
        for message in renewed:  # once committed: a write made again renews again
            message.lease_until = lease_until
        lost = {c.message.pk for c in rest} - held
        if lost:
            log.warning("leases of %d messages were lost; another worker has them", len(lost))
        return lost

    def _recorded(self, done: list[Done]) -> set[tuple[object, int]]:
        """(message, attempt number) of this worker's attempts already on record."""
        return set(
            DeliveryAttempt.objects.filter(
                message_id__in=[item.claimed.message.pk for item in done], worker=self.name
            ).values_list("message_id", "number")
        )

    def _result_fields(self, item: Done, now: datetime) -> dict[str, object]:
        """The message's state after an attempt; `_flush` writes it if the lease still holds."""
        message, result = item.claimed.message, item.result
        remaining = message.remaining_recipients or []  # set after a partial delivery
        # Refusals of recipients not tried this time stand; the rest are this attempt's.
        earlier = (
            {r: a for r, a in message.refused.items() if r not in remaining} if remaining else {}
        )
        fields: dict[str, object] = {"lease_until": None, "refused": earlier | result.refused}
        retry_at = now + timedelta(seconds=retry_delay(message.attempt_count, result.retry_after))
        may_retry = retry_at <= message.give_up_at
        gave_up = f"Gave up after {message.attempt_count} attempts"
        if result.delivered:
            fields.update(sent_at=message.sent_at or now)
            if result.retry_recipients and may_retry:
                return fields | {
                    "status": MessageStatus.DEFERRED,
                    "next_attempt_at": retry_at,
                    "remaining_recipients": list(result.retry_recipients),
                    "last_error": "Delivered, except to recipients refused for now, "
                    f"to be tried again: {', '.join(result.retry_recipients)}",
                }
            unreached = f"{gave_up} on: {', '.join(result.retry_recipients)}"
            return fields | {
                "status": MessageStatus.SENT,
                "remaining_recipients": None,
                "last_error": unreached if result.retry_recipients else "",
            }
        if result.outcome == Outcome.TEMPORARY and may_retry:
            return fields | {
                "status": MessageStatus.DEFERRED,
                "next_attempt_at": retry_at,
                "last_error": result.answer,
            }
        answer = (
            result.answer if result.outcome == Outcome.PERMANENT else f"{gave_up}: {result.answer}"
        )
        if remaining:  # everyone else has had the message since an earlier attempt
            return fields | {
                "status": MessageStatus.SENT,
                "refused": fields["refused"] | dict.fromkeys(remaining, answer),
                "remaining_recipients": None,
                "last_error": answer,
            }
        return fields | {"status": MessageStatus.FAILED, "last_error": answer}

    def _attempt(self, item: Done) -> dict[str, object]:
        """The DeliveryAttempt row of a try, by field name (see `_insert_attempts`)."""
        message, result = item.claimed.message, item.result
        return {
            "message_id": message.pk,
            "number": message.attempt_count,
            "started_at": item.started_at,
            "duration_ms": result.duration_ms,
            "engine": message.version.engine,
            "outcome": result.outcome,
            "answer": result.answer,
            "refused": result.refused,
            "worker": self.name,
        }


def _insert_attempts(attempts: Iterable[dict[str, object]]) -> None:
    """Record a flush's attempts in one INSERT.

    On PostgreSQL the rows go as one JSON parameter: with a parameter per value (nine a
    row), quoting them and parsing the long statement cost more than the insert itself.
    """
    rows = list(attempts)
    if not rows:
        return
    if connection.vendor != "postgresql":
        DeliveryAttempt.objects.bulk_create(DeliveryAttempt(**row) for row in rows)
        return
    fields = [DeliveryAttempt._meta.get_field(name) for name in rows[0]]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    types = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in fields)
    document = json.dumps(rows, default=_json_value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS rows ({types})",
            [document],
        )


def _json_value(value: object) -> str:
    """UUIDs and datetimes in full (DjangoJSONEncoder would cut microseconds)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
