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
from datetime import timedelta
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
    message_id: str | None = None  # the app's own, kept (SMTP submission); else one is made


def accept(credential: ApiToken, submission: Submission) -> tuple[Message, bool]:
    """Validate, compose and store a message. Returns (message, created).

    `credential` comes from tokens.authenticate, which brings the applied version along.
    """
    app_id, stage_id = credential.app_id, credential.stage_id
    _check_keys(submission)
    if submission.idempotency_key:
        existing = (
            Message.objects.filter(
                app_id=app_id, stage_id=stage_id, idempotency_key=submission.idempotency_key
            )
            .defer("raw")
            .first()
        )
        if existing is not None:
            return _replayed(existing, submission), False
    version_id, limit, counted = _applied(credential)
    if version_id is None:
        raise ApiError(
            409,
            "no_configuration",
            f"No email configuration is applied to {credential.app} on {credential.stage}; "
            "an admin applies one on the app's page.",
        )
    if counted >= limit:  # refused before anything is composed or written
        raise _rate_limited(credential, limit)
    _check_size(submission)
    subject, text, html = _content(submission)
    settings_ = frozen_settings(version_id)
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
    try:
        composed = compose(request, settings_)
    except ComposeError as exc:
        raise invalid_field(exc.field, exc.message) from None
    now = timezone.now()
    message = Message(
        app_id=app_id,
        stage_id=stage_id,
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
        next_attempt_at=now,
        give_up_at=now + timedelta(seconds=settings.STAGEMAIL_MAX_MESSAGE_AGE),
    )
    try:
        with transaction.atomic(durable=True):
            message.save(force_insert=True)
            # Counted in the message's own commit, and last: every request of this app and
            # stage updates the same counter row, whose lock is held until the commit.
            _take_rate_limit(credential, limit)
    except IntegrityError:
        if not submission.idempotency_key:
            raise
        # Another request with the same key won the race: answer with its message.
        winner = Message.objects.defer("raw").get(
            app_id=app_id, stage_id=stage_id, idempotency_key=submission.idempotency_key
        )
        return _replayed(winner, submission), False
    return message, True


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


def _applied(credential: ApiToken) -> tuple[int | None, int, int]:
    """The version applied to the credential's app and stage, its rate limit, and the
    messages counted in the current minute: tokens.authenticate brings all three."""
    rate_limit = credential.applied_rate_limit or settings.STAGEMAIL_API_RATE_LIMIT
    return credential.applied_version_id, rate_limit, credential.counted_this_minute


_COUNT_IN_WINDOW = """
    INSERT INTO emailconfig_ratewindow (app_id, stage_id, window_start, count)
    VALUES (%s, %s, %s, 1)
    ON CONFLICT (app_id, stage_id, window_start)
    DO UPDATE SET count = emailconfig_ratewindow.count + 1
    RETURNING count
"""


def _take_rate_limit(credential: ApiToken, limit: int) -> None:
    """Count this message in its minute; over the limit, the transaction rolls back.

    The first message of a minute also removes the app and stage's earlier minutes.
    """
    window = RateWindow.start_of(timezone.now())
    app_id, stage_id = credential.app_id, credential.stage_id
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_IN_WINDOW,
            [app_id, stage_id, connection.ops.adapt_datetimefield_value(window)],
        )
        count = cursor.fetchone()[0]
    if count == 1:
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
    """Queue a failed, cancelled or deferred message again now, with a fresh maximum age."""
    now = timezone.now()
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
