"""A message submitted over SMTP, read into the Submission the API would have made.

The envelope decides who gets it: a recipient the To or Cc header names is that (with the
display name the header gives), any other is a blind copy, and the Bcc header is dropped.
The headers the composer writes itself (From, Date, MIME, …) are replaced by its own; every
other header goes to the composer as an extra header, where the API's rule applies.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator, Sequence
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from emailconfig.composer import COMPOSED_HEADERS
from emailconfig.delivery import Address
from emailconfig.mime import AttachmentData
from emailconfig.services.outbox import Submission, invalid_field

_PARSER = BytesParser(EmailMessage, policy=policy.default)


def read_submission(raw: bytes, recipients: Sequence[str]) -> Submission:
    """The submission for these bytes and envelope recipients; an ApiError (400) if the
    message cannot be read."""
    # The parser reads mail with LF line endings; SMTP's DATA has CRLF.
    message = cast(EmailMessage, _PARSER.parsebytes(raw.replace(b"\r\n", b"\n")))
    try:
        return _submission(message, recipients)
    except (MessageError, LookupError, ValueError) as exc:  # headers or parts it cannot read
        raise invalid_field("message", f"The message cannot be read: {exc}.") from None


def _submission(message: EmailMessage, recipients: Sequence[str]) -> Submission:
    to_names = _names(message, "to")
    cc_names = _names(message, "cc")
    to, cc, bcc = [], [], []
    for email in dict.fromkeys(recipients):  # in order, once each
        key = email.lower()
        if key in to_names:
            to.append(Address(email, to_names[key]))
        elif key in cc_names:
            cc.append(Address(email, cc_names[key]))
        else:
            bcc.append(Address(email))
    reply_to = next(iter(_addresses(message, "reply-to")), None)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    attachments = tuple(
        _attachment(number, part)
        for number, part in enumerate(_leaves(message), start=1)
        if part is not text_part and part is not html_part
    )
    message_id = message.get("message-id")
    return Submission(
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=str(message.get("subject", "")),
        text=_text(text_part),
        html=_text(html_part),
        reply_to=reply_to,
        headers=_extra_headers(message),
        attachments=attachments,
        message_id=str(message_id).strip() if message_id is not None else None,
    )


def _addresses(message: EmailMessage, name: str) -> list[Address]:
    return [
        Address(address.addr_spec, address.display_name)
        for header in message.get_all(name, [])
        for address in header.addresses
        if address.addr_spec
    ]


def _names(message: EmailMessage, name: str) -> dict[str, str]:
    return {address.email.lower(): address.name for address in _addresses(message, name)}


def _extra_headers(message: EmailMessage) -> dict[str, str]:
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in message.items():
        key = name.lower()
        if key in COMPOSED_HEADERS:
            continue
        if key in seen:
            raise invalid_field("headers", f"{name} appears more than once.")
        seen.add(key)
        headers[name] = str(value)
    return headers


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    """Every part that is not a container; an attached message (message/rfc822) is one."""
    if part.get_content_maintype() == "multipart":
        for inner in part.iter_parts():
            yield from _leaves(cast(EmailMessage, inner))
    else:
        yield part


def _text(part: EmailMessage | None) -> str:
    if part is None:
        return ""
    try:
        return cast(str, part.get_content())
    except LookupError:
        raise invalid_field(
            "text", f"The charset {part.get_content_charset()} is unknown."
        ) from None


def _attachment(number: int, part: EmailMessage) -> AttachmentData:
    kind = part.get_content_type()
    content = part.get_payload(decode=True)
    if content is None:  # an attached message: its own bytes
        content = part.get_payload(0).as_bytes() if part.is_multipart() else b""
    filename = part.get_filename() or f"attachment-{number}{mimetypes.guess_extension(kind) or ''}"
    return AttachmentData(filename, kind, cast(bytes, content))
