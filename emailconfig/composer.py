"""One builder for every outgoing message: preview, test-send and the outbound service.

It applies the policy before any engine sees a message: header safety (no CR,
LF or other control characters anywhere in a header or address), address
syntax, the subject prefix, and test-list redirection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import make_msgid
from functools import cached_property

from django.core.exceptions import ValidationError

from emailconfig.delivery import Address, DeliverySettings
from emailconfig.headers import MAX_LINE_OCTETS, fits, is_structured
from emailconfig.mime import AttachmentData, serialize
from emailconfig.validators import address_error, has_control_characters, wire_address

ORIGINAL_RECIPIENTS_HEADER = "X-Stagemail-Original-Recipients"
# Extra headers an app may set: its own X-… headers (not ours) and a few list and
# threading headers. Everything else (From, Bcc, Content-Type, …) is the composer's.
ALLOWED_HEADERS = frozenset(
    {
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "auto-submitted",
        "precedence",
        "in-reply-to",
        "references",
    }
)


def _any_case(name: str) -> str:
    """A header name as a pattern matching it in any ASCII case: JSON Schema has no flags."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in name)


# The API's document shows this pattern; written without flags, with IGNORECASE KELVIN SIGN
# would match "k" and LONG S "s".
HEADER_NAME_PATTERN = "^(?:{}|{}(?!{})[A-Za-z0-9-]{{1,60}})$".format(
    "|".join(_any_case(name) for name in sorted(ALLOWED_HEADERS)),
    _any_case("x-"),
    _any_case("stagemail-"),
)
_HEADER_NAME = re.compile(HEADER_NAME_PATTERN)
# The API's document states _check_structured per header: printable ASCII, its first word
# short enough to follow the name on one line (later words fold onto lines of their own).
STRUCTURED_VALUE_PATTERNS = {
    f"^{_any_case(name)}$": f"^(?![^ ]{{{MAX_LINE_OCTETS - len(name) - 1}}})[ -~]*$"
    for name in sorted(ALLOWED_HEADERS)
}
# Headers the composer writes itself: a message handed over whole (SMTP submission) has
# its own replaced, never passed on as extra headers.
COMPOSED_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "return-path",
        "received",
    }
)
MAX_HEADERS = 20
MAX_CONTENT_TYPE = 127
MAX_RECIPIENTS = 100


class ComposeError(ValueError):
    """The request cannot become a safe message; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# RFC 5322's msg-id in its dot-atom form, as every mailer writes it; it goes on the wire
# as given and is stored in a column of MAX_MESSAGE_ID characters.
_ID_TEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_MESSAGE_ID = re.compile(rf"<{_ID_TEXT}@(?:{_ID_TEXT}|\[[!-Z^-~]*\])>", re.ASCII)
MAX_MESSAGE_ID = 255

CONTENT_TYPE_PATTERN = r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$"  # also in the API's document
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN, re.ASCII)  # fullmatch


@dataclass(frozen=True)
class EmailRequest:
    """What an app (or the preview page) asks to send, before policy is applied."""

    subject: str
    text: str = ""
    html: str = ""
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: Address | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None  # kept on every retry of the same message
    attachments: tuple[AttachmentData, ...] = ()


@dataclass(frozen=True)
class WireMessage:
    """A message as it goes on the wire: its exact bytes and its envelope.

    This is what is stored when a message is accepted and what every attempt sends;
    a retry after a partial delivery narrows the envelope, never the bytes.
    """

    raw: bytes
    envelope_from: str  # MAIL FROM, where bounces go
    recipients: tuple[str, ...]  # RCPT TO

    def to_only(self, recipients: list[str]) -> WireMessage:
        return replace(self, recipients=tuple(recipients))


@dataclass(frozen=True)
class ComposedMessage:
    sender: Address
    envelope_from: str
    reply_to: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    original_recipients: str  # empty unless redirected to the test list
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    message_id: str
    date: datetime
    attachments: tuple[AttachmentData, ...] = ()

    @property
    def envelope_recipients(self) -> list[str]:
        return [a.email for a in (*self.to, *self.cc, *self.bcc)]

    def extra_headers(self) -> dict[str, str]:
        extra = dict(self.headers)
        if self.original_recipients:
            extra[ORIGINAL_RECIPIENTS_HEADER] = self.original_recipients
        return extra

    @cached_property
    def raw(self) -> bytes:
        """The message as it goes on the wire (see emailconfig/mime.py), serialised once:
        its MIME boundaries are random, so a second serialisation would differ."""
        return serialize(self)

    @property
    def wire(self) -> WireMessage:
        return WireMessage(self.raw, self.envelope_from, tuple(self.envelope_recipients))


def _encodable(field_name: str, value: str) -> str:
    """Text must be valid Unicode (a lone surrogate cannot be encoded for the wire) without
    NUL, which email cannot carry (RFC 5322) and PostgreSQL cannot store."""
    if "\x00" in value:
        raise ComposeError(field_name, "contains a NUL character, which email cannot carry.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ComposeError(field_name, "contains characters that are not valid Unicode.") from None
    return value


def single_line(field_name: str, value: str) -> str:
    """A value for a header or a key: no line breaks or other control characters."""
    if has_control_characters(value):
        raise ComposeError(field_name, "line breaks and control characters are not allowed.")
    return _encodable(field_name, value)


def _checked_address(field_name: str, address: Address) -> Address:
    single_line(field_name, address.name)
    if address.name != address.name.strip():  # surrounding spaces do not survive parsing
        address = Address(address.email, address.name.strip())
    single_line(field_name, address.email)
    try:
        email = wire_address(address.email)
    except ValidationError as error:
        raise ComposeError(field_name, address_error(address.email, error)) from None
    return Address(email, address.name)


def _checked_addresses(field_name: str, addresses: tuple[Address, ...]) -> tuple[Address, ...]:
    return tuple(_checked_address(field_name, a) for a in addresses)


def _checked_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise ComposeError("headers", f"at most {MAX_HEADERS} extra headers.")
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ComposeError(
                "headers",
                f"“{name[:60]}” is not allowed. Allowed: X-… headers (except X-Stagemail-…), "
                "List-Unsubscribe, List-Unsubscribe-Post, List-Id, Auto-Submitted, Precedence, "
                "In-Reply-To, References.",
            )
        single_line("headers", value)
        if len(value) > MAX_LINE_OCTETS:
            raise ComposeError(
                "headers", f"the value of {name} is longer than {MAX_LINE_OCTETS} characters."
            )
        if is_structured(name):
            _check_structured(name, value)
    return dict(headers)


def _check_structured(name: str, value: str) -> None:
    """List-…, References and the like carry URLs, message IDs and keywords, which RFC 2047
    cannot encode: they go as they are, so they must be ASCII and fold at their spaces."""
    if not value.isascii():
        raise ComposeError(
            "headers",
            f"{name} takes ASCII only: percent-encode a URL, write a domain in its xn-- form.",
        )
    if not fits(name, value.split(" ")):
        raise ComposeError(
            "headers",
            f"a part of {name} without spaces is too long for one header line (998 "
            "characters with the header's name); separate its items with spaces.",
        )


def _checked_message_id(message_id: str) -> str:
    """A Message-ID given with the request (a retry's, or an app's own) is kept as it is."""
    single_line("message_id", message_id)
    if len(message_id) > MAX_MESSAGE_ID or not _MESSAGE_ID.fullmatch(message_id):
        raise ComposeError(
            "message_id",
            f"a Message-ID is <left@right> in printable ASCII without spaces, at most "
            f"{MAX_MESSAGE_ID} characters.",
        )
    return message_id


def _describe(label: str, addresses: tuple[Address, ...]) -> str:
    return f"{label}: {', '.join(a.email for a in addresses)}" if addresses else ""


def compose(
    request: EmailRequest, settings: DeliverySettings, *, now: datetime | None = None
) -> ComposedMessage:
    """Build the message exactly as it will be sent, or raise ComposeError saying why not."""
    to = _checked_addresses("to", request.to)
    cc = _checked_addresses("cc", request.cc)
    bcc = _checked_addresses("bcc", request.bcc)
    if not (to or cc or bcc):
        raise ComposeError("to", "at least one recipient is needed.")
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise ComposeError("to", f"at most {MAX_RECIPIENTS} recipients in one message.")
    reply_to = request.reply_to or settings.reply_to
    if reply_to is not None:
        reply_to = _checked_address("reply_to", reply_to)
    sender = _checked_address("from", settings.sender)
    prefix = single_line("subject", settings.subject_prefix)
    subject = f"{prefix} {single_line('subject', request.subject)}".strip()
    if not subject:
        raise ComposeError("subject", "a subject is needed.")
    if not (request.text or request.html):
        raise ComposeError("text", "a text or an HTML body is needed.")
    headers = _checked_headers(request.headers)
    _encodable("text", request.text)
    _encodable("html", request.html)

    original = ""
    if settings.redirects_to_test_list:
        original = "; ".join(
            part
            for part in (_describe("To", to), _describe("Cc", cc), _describe("Bcc", bcc))
            if part
        )
        to, cc, bcc = _checked_addresses("test recipients", settings.test_recipients), (), ()
        if not to:
            raise ComposeError("to", "the configuration's test list is empty.")

    attachments = []
    for attachment in request.attachments:
        single_line("attachments", attachment.filename)
        if attachment.filename != attachment.filename.strip():
            attachment = AttachmentData(
                attachment.filename.strip(), attachment.content_type, attachment.content
            )
        attachments.append(attachment)
        if not attachment.filename:
            raise ComposeError("attachments", "every attachment needs a file name.")
        if len(attachment.content_type) > MAX_CONTENT_TYPE:
            raise ComposeError(
                "attachments", f"a content type has at most {MAX_CONTENT_TYPE} characters."
            )
        if not _CONTENT_TYPE.fullmatch(attachment.content_type):
            raise ComposeError(
                "attachments", f"“{attachment.content_type[:60]}” is not a valid content type."
            )

    if request.message_id:
        message_id = _checked_message_id(request.message_id)
    else:
        message_id = make_msgid(domain=sender.email.rpartition("@")[2])
    return ComposedMessage(
        sender=sender,
        envelope_from=_checked_address("envelope_from", Address(settings.envelope_sender)).email,
        reply_to=reply_to,
        to=to,
        cc=cc,
        bcc=bcc,
        original_recipients=original,
        subject=subject,
        text=request.text,
        html=request.html,
        headers=headers,
        message_id=message_id,
        date=now or datetime.now(UTC),
        attachments=tuple(attachments),
    )
