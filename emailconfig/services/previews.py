"""Preview and test-send: the same composer and engines the outbound service uses."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from emailconfig import audit, mime
from emailconfig.audit import Who
from emailconfig.composer import (
    ORIGINAL_RECIPIENTS_HEADER,
    ComposeError,
    EmailRequest,
    WireMessage,
    compose,
)
from emailconfig.delivery import Address, DeliverySettings
from emailconfig.engines import engine_for
from emailconfig.engines.base import DeliveryResult
from emailconfig.models import (
    AuditAction,
    ConfigurationVersion,
    EmailConfiguration,
    EmailTemplate,
    Outcome,
    TestSend,
)
from emailconfig.render_pool import render_template
from emailconfig.rendering import RenderError

TEST_SENDS_PER_HOUR = 20
SEAL_SALT = "emailconfig.preview"
SEAL_MAX_AGE = 3600  # seconds a previewed message may be test-sent as it was shown


class PreviewError(Exception):
    """Why a preview cannot be built; `field` is the form field to show it on."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Preview:
    """A message composed for the preview page; a test-send sends exactly these bytes."""

    version: ConfigurationVersion | None  # None: a configuration form's unsaved settings
    settings: DeliverySettings
    wire: WireMessage
    fingerprint: str  # what it was composed from (see _fingerprint)

    @cached_property
    def shown(self) -> mime.ReadMessage:
        return mime.read(self.wire.raw)

    @property
    def raw(self) -> str:
        return self.wire.raw.decode("ascii")

    @property
    def recipients(self) -> list[str]:
        """Who gets it after redirection, as the headers name them (Bcc from the envelope)."""
        shown = self.shown
        return [
            *(str(a) for a in shown.addresses("To")),
            *(f"Cc: {a}" for a in shown.addresses("Cc")),
            *(f"Bcc: {r}" for r in shown.bcc(self.wire.recipients)),
        ]

    @property
    def original_recipients(self) -> str:
        return self.shown.header(ORIGINAL_RECIPIENTS_HEADER)

    @property
    def seal(self) -> str:
        """The composed message, signed, for the page to hand back when it sends."""
        wire = self.wire
        return signing.dumps(
            {
                "fingerprint": self.fingerprint,
                "raw": base64.b64encode(wire.raw).decode("ascii"),
                "from": wire.envelope_from,
                "to": list(wire.recipients),
            },
            salt=SEAL_SALT,
            compress=True,
        )


def _fingerprint(version: ConfigurationVersion, request: EmailRequest) -> str:
    """What a composition depends on: the version and the request (everything else the
    composer adds, Message-ID, Date and MIME boundaries, is what a seal keeps)."""
    facts = [version.pk, request.subject, request.text, request.html]
    facts += [[a.email, a.name] for a in request.to]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def _unsealed(sealed: str, fingerprint: str) -> WireMessage | None:
    """The sealed message, if it was composed from the same inputs not long ago and has
    not been sent yet (a second send gets its own Message-ID, or receivers drop it)."""
    try:
        data = signing.loads(sealed, salt=SEAL_SALT, max_age=SEAL_MAX_AGE)
    except signing.BadSignature:
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    wire = WireMessage(base64.b64decode(data["raw"]), data["from"], tuple(data["to"]))
    if TestSend.objects.filter(message_id=mime.read(wire.raw).header("Message-ID")).exists():
        return None
    return wire


def build_preview(
    configuration: EmailConfiguration,
    template: EmailTemplate,
    context: dict[str, Any],
    send_to: tuple[Address, ...],
    *,
    sealed: str = "",
) -> Preview:
    """Compose the message for the page, or take the one an earlier preview composed from
    the same inputs (`sealed`), so a test-send sends exactly what the page showed."""
    version = configuration.latest_version()
    if version is None:
        raise PreviewError("configuration", "This configuration has no saved version yet.")
    try:
        rendered = render_template(
            template.subject, template.text_body, template.html_body, context
        )
    except RenderError as exc:
        raise PreviewError("sample_data", str(exc)) from None
    settings = DeliverySettings.from_version(version)
    request = EmailRequest(
        subject=rendered.subject, text=rendered.text, html=rendered.html, to=send_to
    )
    fingerprint = _fingerprint(version, request)
    wire = _unsealed(sealed, fingerprint) if sealed else None
    if wire is None:
        wire = _compose(request, settings)
    return Preview(version=version, settings=settings, wire=wire, fingerprint=fingerprint)


def build_trial(settings: DeliverySettings, send_to: Address) -> Preview:
    """A short test message for settings not saved yet; no template needed."""
    request = EmailRequest(
        subject=f"Stagemail test: {settings.label}",
        text=f"Stagemail sent this test message with the settings of “{settings.label}”.\n"
        "It arrived, so these settings deliver mail.\n",
        to=(send_to,),
    )
    return Preview(
        version=None, settings=settings, wire=_compose(request, settings), fingerprint=""
    )


def _compose(request: EmailRequest, settings: DeliverySettings) -> WireMessage:
    try:
        return compose(request, settings).wire
    except ComposeError as exc:
        raise PreviewError(None, f"The message cannot be sent: {exc}") from None


def check_rate_limit(user: Any) -> None:
    since = timezone.now() - timedelta(hours=1)
    if TestSend.objects.filter(sent_by=user, sent_at__gte=since).count() >= TEST_SENDS_PER_HOUR:
        raise ValidationError(
            f"You have sent {TEST_SENDS_PER_HOUR} test messages in the last hour; "
            "wait a little before sending more.",
            code="rate_limited",
        )


def test_send(preview: Preview, *, user: Who, template: EmailTemplate | None) -> TestSend:
    """Send the previewed message through its configuration and record the outcome.

    The record is written before sending, under a lock on the user, so concurrent
    requests cannot slip past the hourly limit and every send is counted.
    """
    by, user = user, audit.actor(user).user
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        check_rate_limit(user)
        record = TestSend.objects.create(
            version=preview.version,
            template=template,
            sent_by=user,
            message_id=preview.shown.header("Message-ID"),
            subject=preview.shown.header("Subject"),
            recipients=list(preview.wire.recipients),
            outcome=Outcome.TEMPORARY,
            server_answer="Sending…",
        )
        audit.record(
            by,
            AuditAction.TEST_SEND,
            preview.settings.label,
            details={
                "test_send": record.pk,
                "template": template.key if template else None,
                "subject": record.subject,
                "recipients": record.recipients,
            },
        )
    with engine_for(preview.settings) as engine:
        result: DeliveryResult = engine.send(preview.wire)
    answer = result.answer
    if result.refused:
        answer += " · refused: " + "; ".join(f"{r}: {a}" for r, a in result.refused.items())
    record.outcome, record.server_answer, record.duration_ms = (
        result.outcome,
        answer,
        result.duration_ms,
    )
    record.save(update_fields=["outcome", "server_answer", "duration_ms"])
    return record
