"""Accepting messages from apps, and the admin's retry and cancel.

Accepting commits the message row (with its Message-ID and idempotency key)
before the API answers: the row is the queue, so an accepted message cannot be
lost by a broker or a crash. Workers pick rows up (see emailconfig/worker.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from emailconfig import audit, rollup
from emailconfig.audit import Who
from emailconfig.composer import (
    AttachmentData,
    ComposeError,
    EmailRequest,
    compose,
    single_line,
)
from emailconfig.delivery import Address, DeliverySettings
from emailconfig.models import (
    CANCELLABLE_STATUSES,
    RETRYABLE,
    ApiToken,
    AuditAction,
    ConfigurationVersion,
    EmailTemplate,
    Message,
    MessageStatus,
    RateWindow,
)
from emailconfig.render_pool import render_template
from emailconfig.rendering import RenderError


class ApiError(Exception):
    """An answer other than 202, with a machine-readable code and per-field messages."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def invalid_field(field_name: str, message: str) -> ApiError:
    """A 400 naming the one field that is wrong.

    A request the API's document allows but that names a template which does not exist, or
    does not render with its context, is a 422 instead: the document cannot know templates.
    """
    return ApiError(400, "validation_error", "The request is not valid.", {field_name: [message]})


MAX_BATCH = 100  # messages in one batch request
MAX_SCHEDULE_AHEAD = timedelta(days=30)  # how far ahead send_at may be


@dataclass(frozen=True)
class Submission:
    """A message as an app submits it, shape already checked by the API schema."""

    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    reply_to: Address | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    attachments: tuple[AttachmentData, ...] = ()
    send_at: datetime | None = None  # aware; not delivered before
    message_id: str | None = None  # the app's own, kept (SMTP submission); else one is made


@dataclass(frozen=True)
class Outcome:
    """What became of one message of a batch: stored (or replayed), or refused."""

    message: Message | None = None
    created: bool = False
    error: ApiError | None = None


def accept(credential: ApiToken, submission: Submission) -> tuple[Message, bool]:
    """Validate, compose and store a message. Returns (message, created).

    `credential` comes from tokens.authenticate, which brings the applied version along.
    """
    _check_keys(submission)
    key = submission.idempotency_key
    if key and (existing := _existing(credential, [key]).get(key)) is not None:
        return _replayed(existing, submission), False
    version_id, limit = _open_for(credential)
    _check_rate(credential, limit, credential.counted_this_minute)
    message = _prepare(credential, version_id, submission)
    try:
        _store(credential, [message], limit)
    except IntegrityError:
        if not key:
            raise
        # Another request with the same key won the race: answer with its message.
        return _replayed(_existing(credential, [key])[key], submission), False
    return message, True


def accept_batch(credential: ApiToken, submissions: list[Submission | ApiError]) -> list[Outcome]:
    """Check every message on its own, as `accept` does, and store those that pass in one
    transaction. Returns one outcome per message, in order; a message already refused
    (by the API's schema) is passed as its error, and keeps it.

    A batch refused as a whole (no configuration applied, the database away, the rate limit
    overtaken meanwhile by another request) raises, and stores nothing.
    """
    check_batch_size(len(submissions))
    version_id, limit = _open_for(credential)
    for _ in range(2):
        outcomes = _prepare_batch(credential, version_id, limit, submissions)
        try:
            _store(credential, [o.message for o in outcomes if o.created and o.message], limit)
        except IntegrityError:
            # Another request stored a message under one of these keys meanwhile: once
            # more, now that it is there, which makes those messages replays.
            continue
        return outcomes
    raise IntegrityError("idempotency keys kept being taken by other requests")


def check_batch_size(count: int) -> None:
    """A batch holds 1 to MAX_BATCH messages (the API checks it before reading them)."""
    if not 1 <= count <= MAX_BATCH:
        raise invalid_field(
            "messages", f"Send 1 to {MAX_BATCH} messages in one request, not {count}."
        )


def _prepare_batch(
    credential: ApiToken, version_id: int, limit: int, submissions: list[Submission | ApiError]
) -> list[Outcome]:
    keys = [
        s.idempotency_key for s in submissions if isinstance(s, Submission) and s.idempotency_key
    ]
    stored = _existing(credential, keys) if keys else {}
    earlier: dict[str, Message] = {}  # keys met earlier in this batch
    counted = credential.counted_this_minute
    outcomes = []
    for submission in submissions:
        if isinstance(submission, ApiError):
            outcomes.append(Outcome(error=submission))
            continue
        key = submission.idempotency_key
        try:
            _check_keys(submission)
            if key and (existing := stored.get(key) or earlier.get(key)) is not None:
                outcomes.append(Outcome(_replayed(existing, submission)))
                continue
            _check_rate(credential, limit, counted)
            message = _prepare(credential, version_id, submission)
        except ApiError as error:
            outcomes.append(Outcome(error=error))
            continue
        counted += 1
        if key:
            earlier[key] = message
        outcomes.append(Outcome(message, created=True))
    return outcomes


def _existing(credential: ApiToken, keys: list[str]) -> dict[str, Message]:
    """The app and stage's messages stored with these idempotency keys, by key."""
    found = Message.objects.filter(
        app_id=credential.app_id, stage_id=credential.stage_id, idempotency_key__in=keys
    ).defer("raw")
    return {m.idempotency_key: m for m in found if m.idempotency_key}


def _open_for(credential: ApiToken) -> tuple[int, int]:
    """The version applied to the credential's app and stage, and its rate limit a minute
    (tokens.authenticate brings both, with the messages counted this minute)."""
    if credential.applied_version_id is None:
        raise ApiError(
            409,
            "no_configuration",
            f"No email configuration is applied to {credential.app} on {credential.stage}; "
            "an admin applies one on the app's page.",
        )
    rate_limit = credential.applied_rate_limit or settings.STAGEMAIL_API_RATE_LIMIT
    return credential.applied_version_id, rate_limit


def _check_rate(credential: ApiToken, limit: int, counted: int) -> None:
    if counted >= limit:  # refused before anything is composed or written
        raise _rate_limited(credential, limit)


def _prepare(credential: ApiToken, version_id: int, submission: Submission) -> Message:
    """Check and compose a message; the row to store, not stored yet."""
    now = timezone.now()
    due = _due(submission.send_at, now)
    _check_size(submission)
    subject, text, html = _content(submission)
    request = EmailRequest(
        subject=subject,
        text=text,
        html=html,
        to=submission.to,
        cc=submission.cc,
        bcc=submission.bcc,
        reply_to=submission.reply_to,
        headers=submission.headers,
        attachments=submission.attachments,
        message_id=submission.message_id,
    )
    try:  # dated when it is due: a scheduled message is not dated the day it was accepted
        composed = compose(request, frozen_settings(version_id), now=due)
    except ComposeError as exc:
        raise invalid_field(exc.field, exc.message) from None
    return Message(
        app_id=credential.app_id,
        stage_id=credential.stage_id,
        version_id=version_id,
        idempotency_key=submission.idempotency_key or None,
        idempotency_hash=_fingerprint(submission) if submission.idempotency_key else "",
        message_id=composed.message_id,
        recipients={
            "to": [vars(a) for a in submission.to],
            "cc": [vars(a) for a in submission.cc],
            "bcc": [vars(a) for a in submission.bcc],
        },
        subject=subject,
        raw=composed.raw,
        envelope_from=composed.envelope_from,
        template_key=submission.template or "",
        final_recipients=composed.envelope_recipients,
        original_recipients=composed.original_recipients,
        created_at=now,
        send_at=due if due > now else None,
        next_attempt_at=due,
        give_up_at=due + timedelta(seconds=settings.STAGEMAIL_MAX_MESSAGE_AGE),
    )


def _due(send_at: datetime | None, now: datetime) -> datetime:
    """When a message may first be sent: now, or its send_at if that is later."""
    if send_at is None:
        return now
    try:
        moment = send_at.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or year 9999
        moment = datetime.min.replace(tzinfo=UTC) if send_at.year == 1 else None
    if moment is None or moment > now + MAX_SCHEDULE_AHEAD:
        days = MAX_SCHEDULE_AHEAD.days
        raise ApiError(
            422,
            "send_at_too_late",
            f"send_at is at most {days} days ahead; submit the message closer to its time.",
            {"send_at": [f"At most {days} days from now (a time in the past sends now)."]},
        )
    return max(moment, now)


def _store(credential: ApiToken, messages: list[Message], limit: int) -> None:
    """Insert the messages and count them against the rate limit, in one transaction."""
    if not messages:
        return
    with transaction.atomic(durable=True):
        _insert(messages)
        # Counted in the messages' own commit, and last: every request of this app and
        # stage updates the same counter row, whose lock is held until the commit.
        _take_rate_limit(credential, limit, len(messages))


def _replayed(existing: Message, submission: Submission) -> Message:
    """The message a repeated key stands for, if the submission is the same one."""
    if existing.idempotency_hash and existing.idempotency_hash != _fingerprint(submission):
        raise ApiError(
            409,
            "idempotency_conflict",
            "This idempotency_key came with a different message before; a new message needs "
            "a new key.",
        )
    return existing


def _fingerprint(submission: Submission) -> str:
    """What an idempotency key promises: the same submission, attachments by their digest."""
    facts = {
        name: getattr(submission, name)
        for name in ("subject", "text", "html", "template", "context", "headers")
    }
    facts |= {
        kind: [[a.email, a.name] for a in getattr(submission, kind)] for kind in ("to", "cc", "bcc")
    }
    facts["reply_to"] = vars(submission.reply_to) if submission.reply_to else None
    facts["attachments"] = [
        [a.filename, a.content_type, hashlib.sha256(a.content).hexdigest()]
        for a in submission.attachments
    ]
    if submission.send_at is not None:  # only then: keys stored before send_at keep their hash
        facts["send_at"] = submission.send_at.isoformat()
    canonical = json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=256)
def frozen_settings(version_id: int) -> DeliverySettings:
    """Versions never change, so their frozen settings are kept per process."""
    return DeliverySettings.from_version(ConfigurationVersion.objects.get(pk=version_id))


def _check_size(submission: Submission) -> None:
    limit = settings.STAGEMAIL_MAX_ATTACHMENTS
    if len(submission.attachments) > limit:
        raise invalid_field("attachments", f"At most {limit} attachments.")
    size = sum(len(a.content) for a in submission.attachments)
    size += sum(
        len((part or "").encode("utf-8", "surrogatepass"))
        for part in (submission.text, submission.html, submission.subject)
    )
    if size > settings.STAGEMAIL_MAX_MESSAGE_BYTES:
        raise ApiError(
            413,
            "too_large",
            f"The message is larger than {settings.STAGEMAIL_MAX_MESSAGE_BYTES:,} bytes.",
        )


def _content(submission: Submission) -> tuple[str, str, str]:
    """Subject, text and HTML: given directly, or rendered from a template and its context."""
    if submission.template:
        if submission.subject or submission.text or submission.html:
            raise invalid_field(
                "template", "Give either a template with its context, or subject and text/html."
            )
        template = EmailTemplate.objects.filter(key=submission.template).first()
        if template is None:
            raise ApiError(
                422,
                "unknown_template",
                f"No template has the key “{submission.template}”.",
                {"template": [f"No template has the key “{submission.template}”."]},
            )
        try:
            rendered = render_template(
                template.subject, template.text_body, template.html_body, submission.context
            )
        except RenderError as exc:
            raise ApiError(
                422,
                "template_error",
                "The template cannot be rendered with this context.",
                {"context": [str(exc)]},
            ) from None
        return rendered.subject, rendered.text, rendered.html
    if not submission.subject:
        raise invalid_field("subject", "A subject is required (or a template).")
    if not (submission.text or submission.html):
        raise invalid_field("text", "Give a text body, an HTML body, or both (or a template).")
    return submission.subject, submission.text or "", submission.html or ""


def _check_keys(submission: Submission) -> None:
    """Keys are looked up before anything else, so they are checked before anything else."""
    try:
        for name in ("idempotency_key", "template"):
            if value := getattr(submission, name):
                single_line(name, value)
    except ComposeError as exc:
        raise invalid_field(exc.field, exc.message) from None


def _insert(messages: list[Message]) -> None:
    """One statement for all of them. On PostgreSQL a COPY, which psycopg streams row by
    row: a multi-row INSERT of a batch spent half its time having Django compile, and
    psycopg bind, 26 parameters a message."""
    if connection.vendor != "postgresql":
        Message.objects.bulk_create(messages)
        return
    fields = Message._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Message._meta.db_table)
    copying = f"COPY {table} ({columns}) FROM STDIN"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,  # psycopg's errors as Django's (IntegrityError)
        cursor.cursor.copy(copying) as copy,
    ):
        for message in messages:
            copy.write_row(
                [f.get_db_prep_save(f.pre_save(message, True), connection) for f in fields]
            )


_COUNT_IN_WINDOW = """
    INSERT INTO emailconfig_ratewindow (app_id, stage_id, window_start, count)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (app_id, stage_id, window_start)
    DO UPDATE SET count = emailconfig_ratewindow.count + EXCLUDED.count
    RETURNING count
"""


def _take_rate_limit(credential: ApiToken, limit: int, messages: int = 1) -> None:
    """Count messages in their minute; over the limit, the transaction rolls back.

    The first message of a minute also removes the app and stage's earlier minutes.
    """
    window = RateWindow.start_of(timezone.now())
    app_id, stage_id = credential.app_id, credential.stage_id
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_IN_WINDOW,
            [app_id, stage_id, connection.ops.adapt_datetimefield_value(window), messages],
        )
        count = cursor.fetchone()[0]
    if count == messages:
        RateWindow.objects.filter(
            app_id=app_id, stage_id=stage_id, window_start__lt=window
        ).delete()
    if count > limit:
        raise _rate_limited(credential, limit)


def _rate_limited(credential: ApiToken, limit: int) -> ApiError:
    where = (
        "this app's own limit on this stage, set on the app's page in the portal"
        if credential.applied_rate_limit
        else "the default limit (STAGEMAIL_API_RATE_LIMIT); an editor can set this app's own "
        "limit on its page in the portal"
    )
    noun = "message" if limit == 1 else "messages"
    return ApiError(
        429,
        "rate_limited",
        f"More than {limit} {noun} a minute for {credential.app} on {credential.stage}: {where}.",
        headers={"Retry-After": str(60 - timezone.now().second)},
    )


# Admin actions -----------------------------------------------------------------


# Why a retry or a cancel did nothing, as the portal and the admin API say it.
NOT_RETRYABLE = "Only a failed, cancelled or deferred message can be retried."
NOT_CANCELLABLE = "Only a queued or deferred message can be cancelled."


@transaction.atomic
def cancel(message: Message, *, by: Who) -> bool:
    """Cancel a message that is waiting; one being sent right now cannot be stopped."""
    done = Message.objects.filter(pk=message.pk, status__in=CANCELLABLE_STATUSES).update(
        status=MessageStatus.CANCELLED, lease_token=F("lease_token") + 1
    )
    if done:
        _audit(by, AuditAction.MESSAGE_CANCELLED, message)
    return bool(done)


def _audit(by: Who, action: AuditAction, message: Message) -> None:
    audit.record(
        by,
        action,
        f"Message {message.pk}",
        stage=message.stage,
        details={
            "message_id": message.message_id,
            "subject": message.subject,
            "app": str(message.app),
        },
    )


def retry(message: Message, *, by: Who) -> bool:
    """Queue a failed, cancelled or deferred message again now (or at its send_at, if that
    is still ahead), with a fresh maximum age."""
    now = max(timezone.now(), message.send_at or timezone.now())
    with transaction.atomic():
        failed = Message.objects.select_for_update().filter(
            pk=message.pk, status=MessageStatus.FAILED
        )
        was_failed = failed.exists()
        done = Message.objects.filter(RETRYABLE, pk=message.pk).update(
            status=MessageStatus.QUEUED,
            next_attempt_at=now,
            give_up_at=now + timedelta(seconds=settings.STAGEMAIL_MAX_MESSAGE_AGE),
            lease_token=F("lease_token") + 1,
        )
        if done and was_failed:  # no longer failed: the chart takes it back
            rollup.record([(message, MessageStatus.FAILED)], change=-1)
        if done:
            _audit(by, AuditAction.MESSAGE_RETRIED, message)
    return bool(done)
