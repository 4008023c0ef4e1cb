"""Preview and test-send: the same composer and engines the outbound service uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from emailconfig.composer import ComposedMessage, ComposeError, EmailRequest, compose
from emailconfig.delivery import Address, DeliverySettings
from emailconfig.engines import engine_for
from emailconfig.engines.base import DeliveryResult
from emailconfig.models import (
    ConfigurationVersion,
    EmailConfiguration,
    EmailTemplate,
    Outcome,
    TestSend,
)
from emailconfig.rendering import RenderError, render_template

TEST_SENDS_PER_HOUR = 20


class PreviewError(Exception):
    """Why a preview cannot be built; `field` is the form field to show it on."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Preview:
    version: ConfigurationVersion | None  # None: a configuration form's unsaved settings
    settings: DeliverySettings
    message: ComposedMessage

    @property
    def header_block(self) -> str:
        return header_block(self.message)


def header_block(message: ComposedMessage) -> str:
    """The headers exactly as they go on the wire."""
    head = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    return head.decode("ascii", "replace").replace("\r\n", "\n")


def build_preview(
    configuration: EmailConfiguration,
    template: EmailTemplate,
    context: dict[str, Any],
    send_to: tuple[Address, ...],
) -> Preview:
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
    return Preview(version=version, settings=settings, message=_compose(request, settings))


def build_trial(settings: DeliverySettings, send_to: Address) -> Preview:
    """A short test message for settings not saved yet; no template needed."""
    request = EmailRequest(
        subject=f"Stagemail test: {settings.label}",
        text=f"Stagemail sent this test message with the settings of “{settings.label}”.\n"
        "It arrived, so these settings deliver mail.\n",
        to=(send_to,),
    )
    return Preview(version=None, settings=settings, message=_compose(request, settings))


def _compose(request: EmailRequest, settings: DeliverySettings) -> ComposedMessage:
    try:
        return compose(request, settings)
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


def test_send(preview: Preview, *, user: Any, template: EmailTemplate | None) -> TestSend:
    """Send the previewed message through its configuration and record the outcome.

    The record is written before sending, under a lock on the user, so concurrent
    requests cannot slip past the hourly limit and every send is counted.
    """
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        check_rate_limit(user)
        record = TestSend.objects.create(
            version=preview.version,
            template=template,
            sent_by=user,
            message_id=preview.message.message_id,
            subject=preview.message.subject,
            recipients=preview.message.envelope_recipients,
            outcome=Outcome.TEMPORARY,
            server_answer="Sending…",
        )
    with engine_for(preview.settings) as engine:
        result: DeliveryResult = engine.send(preview.message)
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
