"""Shapes of the API's requests and answers; they generate /api/v1/openapi.json.

The document states every rule a request must follow, so that a client generated from it
sends requests the API accepts. Pydantic checks lengths; the composer and the outbox check
the rest with their own wording, and each pattern here is built from the constant they use.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from django.conf import settings
from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict, Discriminator, PlainValidator, Tag

from emailconfig.composer import (
    CONTENT_TYPE_PATTERN,
    HEADER_NAME_PATTERN,
    MAX_HEADERS,
    MAX_RECIPIENTS,
    STRUCTURED_VALUE_PATTERNS,
)
from emailconfig.headers import MAX_LINE_OCTETS as MAX_HEADER_LINE
from emailconfig.models import Message, MessageStatus
from emailconfig.services.outbox import MAX_BATCH, MAX_SCHEDULE_AHEAD
from emailconfig.validators import (
    CONTROL_CHARACTERS,
    MAX_ADDRESS,
    MAX_LOCAL_PART,
)

# What str.strip() removes that is not already a control character: a value of only these
# is empty once stripped.
_SPACES = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
SINGLE_LINE = f"^[^{CONTROL_CHARACTERS}]*$"
NOT_BLANK_SINGLE_LINE = (
    f"^[^{CONTROL_CHARACTERS}]*[^{CONTROL_CHARACTERS}{_SPACES}][^{CONTROL_CHARACTERS}]*$"
)
NO_NUL = "^[^\\x00]*$"
_SCHEDULED = (
    "Scheduled: the send_at the app gave, before which the message is not delivered. Null "
    "when it goes as soon as possible."
)
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

# Django's EmailValidator, which the composer applies, in its ASCII form and without the
# lookbehinds JSON Schema generators cannot follow: a dot-atom mailbox name of at most
# MAX_LOCAL_PART characters, and a domain of labels ending in a top-level one (the total,
# MAX_ADDRESS, keeps the domain within its own limit). An A-label ("xn--…") is taken only
# when it decodes under IDNA 2008, which no pattern can say, so the pattern leaves them out.
_ATOM = "[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+"
_NOT_A_LABEL = "(?![Xx][Nn]--)"
_LABEL = f"{_NOT_A_LABEL}[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
_TOP_LABEL = f"{_NOT_A_LABEL}[A-Za-z][A-Za-z-]{{0,61}}[A-Za-z]"
_MAILBOX = f"(?![^@]{{{MAX_LOCAL_PART + 1}}}){_ATOM}(?:\\.{_ATOM})*"
EMAIL_PATTERN = f"^{_MAILBOX}@{_LABEL}(?:\\.{_LABEL})*\\.{_TOP_LABEL}$"
# No "format": "email": validators read that format each their own way (one refuses the
# punycode labels the API takes), so the pattern states the API's rule instead.
EMAIL_ADDRESS = {
    "pattern": EMAIL_PATTERN,
    "description": f"An email address, its mailbox name at most {MAX_LOCAL_PART} characters. "
    "A domain in Unicode is also taken, and sent in its ASCII form (IDNA 2008); so is an "
    "A-label (xn--…) that decodes under IDNA 2008.",
}

Address = Annotated[str, Field(max_length=MAX_ADDRESS, json_schema_extra=EMAIL_ADDRESS)]
SingleLine = Annotated[str, Field(json_schema_extra={"pattern": SINGLE_LINE})]
Body = Annotated[str, Field(json_schema_extra={"pattern": NO_NUL})]


class RecipientIn(Schema):
    email: Address
    name: SingleLine = Field("", max_length=200)


def _recipient_kind(value: Any) -> str:
    return "recipient" if isinstance(value, dict | RecipientIn) else "address"


# Validated as the one form it is, so an error speaks of that form only.
Recipient = Annotated[
    Annotated[Address, Tag("address")] | Annotated[RecipientIn, Tag("recipient")],
    Discriminator(_recipient_kind),
]


def _recipients(description: str) -> Any:
    return Field(
        default_factory=list,
        max_length=MAX_RECIPIENTS,
        description=f'{description} Each an address or {{"email", "name"}}. At least one '
        f"recipient in to, cc or bcc; at most {MAX_RECIPIENTS} in all.",
    )


def _attachment_limits(schema: dict[str, Any]) -> None:
    """The configured limits, read when the document is made."""
    schema["maxItems"] = settings.STAGEMAIL_MAX_ATTACHMENTS
    schema["description"] = (
        f"The message, its files decoded, is at most {settings.STAGEMAIL_MAX_MESSAGE_BYTES:,} "
        "bytes: a larger one is answered 413."
    )


def _base64_content(schema: dict[str, Any]) -> None:
    limit = 4 * math.ceil(settings.STAGEMAIL_MAX_MESSAGE_BYTES / 3)
    schema.update(contentEncoding="base64", pattern=BASE64, maxLength=limit)


class AttachmentIn(Schema):
    filename: str = Field(max_length=255, json_schema_extra={"pattern": NOT_BLANK_SINGLE_LINE})
    content_type: str = Field(
        "application/octet-stream",
        max_length=127,
        json_schema_extra={"pattern": CONTENT_TYPE_PATTERN},
    )
    content: str = Field(
        description="The file, base64-encoded (RFC 4648, padded, no line breaks).",
        json_schema_extra=_base64_content,
    )


def _non_empty(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}


# The service takes an empty string for "not given".
_NOT_GIVEN = {"type": ["string", "null"], "maxLength": 0}


# Rules across fields, which JSON Schema states beside the properties.
_ACROSS_FIELDS = {
    "allOf": [
        {
            "description": "At least one recipient.",
            "anyOf": [
                {"required": [kind], "properties": {kind: {"type": "array", "minItems": 1}}}
                for kind in ("to", "cc", "bcc")
            ],
        },
        {
            "description": "A subject with a text or HTML body (or both), or a template with "
            "its context.",
            "oneOf": [
                {
                    "title": "Content",
                    "required": ["subject"],
                    "properties": {
                        "subject": {"type": "string", "pattern": NOT_BLANK_SINGLE_LINE},
                        "template": _NOT_GIVEN,
                    },
                    "anyOf": [_non_empty("text"), _non_empty("html")],
                },
                {
                    "title": "Template",
                    "required": ["template"],
                    "properties": {
                        "template": {"type": "string", "minLength": 1},
                        **dict.fromkeys(("subject", "text", "html"), _NOT_GIVEN),
                    },
                },
            ],
        },
    ]
}


class MessageIn(Schema):
    model_config = ConfigDict(json_schema_extra=_ACROSS_FIELDS)

    to: list[Recipient] = _recipients("Recipients.")
    cc: list[Recipient] = _recipients("Copies.")
    bcc: list[Recipient] = _recipients("Blind copies, shown to nobody.")
    subject: SingleLine | None = Field(None, max_length=MAX_HEADER_LINE)
    text: Body | None = None
    html: Body | None = None
    template: SingleLine | None = Field(
        None,
        max_length=80,
        description="Key of a portal template; a key no template has is answered 422.",
    )
    context: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    reply_to: Recipient | None = None
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers: X-… (not X-Stagemail-…), List-Unsubscribe, "
        "List-Unsubscribe-Post, List-Id, Auto-Submitted, Precedence, In-Reply-To, References. "
        "Those but X-… carry URLs, message IDs and keywords as they are: printable ASCII.",
        json_schema_extra={
            "maxProperties": MAX_HEADERS,
            "propertyNames": {"pattern": HEADER_NAME_PATTERN},
            "patternProperties": {
                name: {"type": "string", "maxLength": MAX_HEADER_LINE, "pattern": value}
                for name, value in STRUCTURED_VALUE_PATTERNS.items()
            },
            "additionalProperties": {
                "type": "string",
                "maxLength": MAX_HEADER_LINE,
                "pattern": SINGLE_LINE,
            },
        },
    )
    idempotency_key: SingleLine | None = Field(
        None, max_length=200, description="A retry with the same key returns the same message."
    )
    attachments: list[AttachmentIn] = Field(
        default_factory=list, json_schema_extra=_attachment_limits
    )
    send_at: AwareDatetime | None = Field(
        None,
        description="Not delivered before this time (ISO 8601 with its offset, e.g. "
        f"2026-12-24T09:00:00+01:00), at most {MAX_SCHEDULE_AHEAD.days} days ahead (further "
        "is answered 422); a time in the past sends now.",
    )


class MessageAccepted(Schema):
    id: UUID
    status: str
    message_id: str = Field(description="The RFC 5322 Message-ID, the same on every attempt.")
    status_url: str
    send_at: datetime | None = Field(None, description=_SCHEDULED)


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
    send_at: datetime | None = Field(description=_SCHEDULED)
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    attempts: list[AttemptOut]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Messages per field, keyed by its path in the request: to[0].email, "
        "attachments[1].content, headers.X-Note.",
    )


class ErrorOut(Schema):
    error: ErrorBody


# A batch's messages are each validated on their own, so that one that breaks a rule is
# answered in its own result while the others are stored: the document says what a message
# must be, the API checks it message by message.
EachMessage = Annotated[Any, PlainValidator(lambda value: value, json_schema_input_type=MessageIn)]


class BatchIn(Schema):
    messages: list[EachMessage] = Field(
        description=f"1 to {MAX_BATCH} messages, each as POST /api/v1/messages takes it (its "
        "own idempotency_key included).",
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH},
    )


class BatchResult(Schema):
    status: int = Field(
        description="202 when the message is stored (or was before, under its "
        "idempotency_key), else the status POST /api/v1/messages would answer for it."
    )
    message: MessageAccepted | None = Field(None, description="When stored.")
    replayed: bool = Field(
        False, description="true when its idempotency_key answers with the original message."
    )
    error: ErrorBody | None = Field(
        None, description="When refused; fields are named by their path in the batch."
    )


class BatchOut(Schema):
    accepted: int = Field(description="Messages stored, replays included.")
    refused: int
    results: list[BatchResult] = Field(description="One per message, in the request's order.")


def message_status(message: Message) -> dict[str, Any]:
    """A message as MessageOut shows it."""
    waiting = message.status in (MessageStatus.QUEUED, MessageStatus.DEFERRED)
    return {
        "id": message.pk,
        "status": message.status,
        "app": message.app.slug,
        "stage": message.stage.slug,
        "message_id": message.message_id,
        "subject": message.subject,
        "recipients": message.recipients,
        "final_recipients": message.final_recipients,
        "refused": message.refused,
        "remaining_recipients": message.remaining_recipients,
        "created_at": message.created_at,
        "send_at": message.send_at,
        "next_attempt_at": message.next_attempt_at if waiting else None,
        "sent_at": message.sent_at,
        "last_error": message.last_error,
        "attempts": list(message.attempts.all()),
    }
