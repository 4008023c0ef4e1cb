"""The outbound service's records: API tokens, messages (the queue itself), attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from emailconfig.models.configurations import App, ConfigurationVersion, Stage


class ApiToken(models.Model):
    """A credential for one app on one stage. Only a hash is stored; the token is shown once."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="tokens")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(
        max_length=16, help_text="The token's first characters, to tell it apart."
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.app} on {self.stage})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING)
WAITING_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED)  # for their next_attempt_at
# What an admin may do to a message: cancel one that waits (one being sent cannot be
# stopped), queue one again that failed, was cancelled or waits for its retry.
CANCELLABLE_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED)
RETRYABLE_STATUSES = (MessageStatus.FAILED, MessageStatus.CANCELLED, MessageStatus.DEFERRED)


class Message(models.Model):
    """An accepted message. This row is the queue: nothing about delivery lives elsewhere."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="messages")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="messages")
    version = models.ForeignKey(
        ConfigurationVersion, on_delete=models.PROTECT, related_name="messages"
    )
    status = models.CharField(max_length=12, choices=MessageStatus, default=MessageStatus.QUEUED)
    # NULL, not "", for "no key": the unique constraint below only covers real keys.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    idempotency_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the submission that came with the key: a repeat must match it.",
    )
    message_id = models.CharField("Message-ID", max_length=255)

    recipients = models.JSONField(help_text='{"to": [...], "cc": [...], "bcc": [...]}')
    subject = models.TextField()
    # Composed once, when accepted: every attempt sends these bytes, and the message
    # page and its .eml download show them. Attachments live only in here.
    raw = models.BinaryField(help_text="The message exactly as it goes on the wire (RFC 5322).")
    envelope_from = models.CharField("envelope sender", max_length=320)
    template_key = models.CharField(max_length=80, blank=True)
    final_recipients = models.JSONField(
        default=list, help_text="The envelope's recipients, after any test-list redirection."
    )
    original_recipients = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="Scheduled by the app: not sent before this."
    )
    # The queue's clock: a scheduled message is due at its send_at, a deferred one at its retry.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField(help_text="After this, a temporary failure is final.")
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveBigIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    refused = models.JSONField(default=dict, blank=True)
    remaining_recipients = models.JSONField(
        null=True,
        blank=True,
        help_text="After a partial delivery, the recipients refused for now and still to be "
        "tried; empty when the next attempt goes to everyone.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "stage", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="message_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="message_due"),
            # The worker's claim of waiting messages: an ordered scan that stops at the batch's
            # size, skipping what is scheduled later (worker.claim).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=WAITING_STATUSES),
                name="message_waiting",
            ),
            models.Index(fields=["app", "stage", "created_at"], name="message_app_stage_time"),
            models.Index(fields=["created_at"], name="message_created"),
            models.Index(fields=["message_id"], name="message_message_id"),  # outbox search
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"

    @property
    def can_cancel(self) -> bool:
        return self.status in CANCELLABLE_STATUSES

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE_STATUSES and bool(self.raw)  # see RETRYABLE below


# A message may be queued again when its status allows it and it has bytes to send (one
# that migration 0008 could not compose has none).
RETRYABLE = Q(status__in=RETRYABLE_STATUSES) & ~Q(raw=b"")


class DeliveryAttempt(models.Model):
    """One try at delivering a message: when, how long, and the server's own answer."""

    # An append-only log of its message: written by the worker that holds the message,
    # removed with it by the retention purge, set-based (services/retention.py). Without a
    # database constraint, because its per-row check at commit cost half the purge's time.
    message = models.ForeignKey(
        Message, on_delete=models.DO_NOTHING, db_constraint=False, related_name="attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    engine = models.CharField(max_length=20)
    outcome = models.CharField(max_length=20)
    answer = models.TextField(blank=True)
    refused = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["message", "number"]

    def __str__(self) -> str:
        return f"{self.message_id} attempt {self.number}: {self.outcome}"


class RateWindow(models.Model):
    """Messages accepted for an app on a stage in one minute, for the API rate limit."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "stage", "window_start"], name="rate_window_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.app}/{self.stage} {self.window_start:%H:%M}: {self.count}"

    @staticmethod
    def start_of(moment: datetime) -> datetime:
        """The window a moment falls in: its minute."""
        return moment.replace(second=0, microsecond=0)


class SinkMessage(models.Model):
    """What the local development sink received (make run); shown under Local sink."""

    received_at = models.DateTimeField(auto_now_add=True)
    mail_from = models.CharField(max_length=320)
    rcpt_tos = models.JSONField(default=list)
    subject = models.TextField(blank=True)
    raw = models.BinaryField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["received_at"], name="sink_received")]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.rcpt_tos)}"
