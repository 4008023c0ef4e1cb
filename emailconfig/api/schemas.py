"""Shapes of the API's requests and answers; they generate /api/v1/openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema


class RecipientIn(Schema):
    email: str = Field(max_length=254)
    name: str = Field("", max_length=200)


class AttachmentIn(Schema):
    filename: str = Field(max_length=255)
    content_type: str = Field("application/octet-stream", max_length=127)
    content: str = Field(description="The file, base64-encoded.")


class MessageIn(Schema):
    to: list[str | RecipientIn] = Field(
        default_factory=list, description='Each an address or {"email", "name"}.'
    )
    cc: list[str | RecipientIn] = Field(default_factory=list)
    bcc: list[str | RecipientIn] = Field(default_factory=list)
    subject: str | None = Field(None, max_length=998)
    text: str | None = None
    html: str | None = None
    template: str | None = Field(None, max_length=80, description="Key of a portal template.")
    context: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    reply_to: str | RecipientIn | None = None
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers: X-… (not X-Stagemail-…), List-Unsubscribe, "
        "List-Unsubscribe-Post, List-Id, Auto-Submitted, Precedence, In-Reply-To, References.",
    )
    idempotency_key: str | None = Field(
        None, max_length=200, description="A retry with the same key returns the same message."
    )
    attachments: list[AttachmentIn] = Field(default_factory=list)


class MessageAccepted(Schema):
    id: UUID
    status: str
    message_id: str = Field(description="The RFC 5322 Message-ID, the same on every attempt.")
    status_url: str


class AttemptOut(Schema):
    number: int
    started_at: datetime
    duration_ms: int
    outcome: str = Field(description="delivered, temporary or permanent")
    answer: str = Field(description="The server's own words.")
    refused: dict[str, str] = Field(description="Recipients refused one by one, with the answer.")


class MessageOut(Schema):
    id: UUID
    status: str = Field(description="queued, sending, sent, deferred, failed or cancelled")
    app: str
    stage: str
    message_id: str
    subject: str
    recipients: dict[str, list[dict[str, str]]] = Field(description="As submitted.")
    final_recipients: list[str] = Field(description="After test-list redirection.")
    refused: dict[str, str] = Field(
        description="Recipients the server refused, with its answer, as of the latest attempt."
    )
    remaining_recipients: list[str] | None = Field(
        description="After a partial delivery: the recipients refused for now, to be tried "
        "again on their own. Null when nobody is waiting."
    )
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    attempts: list[AttemptOut]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = Field(default_factory=dict)


class ErrorOut(Schema):
    error: ErrorBody
