"""Serialise a composed message to RFC 5322 / MIME bytes, fast.

The standard library's `EmailMessage` takes about a millisecond per message,
more than the SMTP exchange itself; the delivery worker serialises thousands a
second. This writes the same structure directly: header lines folded and encoded
by emailconfig/headers.py, quoted-printable bodies (7bit when they are plain ASCII
with short lines), base64 attachments, CRLF line endings.
tests/test_mime.py checks, property-based, that the standard parser reads back
exactly what was composed.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import format_datetime, getaddresses
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from emailconfig import headers
from emailconfig.delivery import Address

if TYPE_CHECKING:
    from emailconfig.composer import ComposedMessage

CRLF = headers.CRLF


@dataclass(frozen=True)
class AttachmentData:
    filename: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


def _text_part(content: str, subtype: str) -> str:
    data = content.replace("\r\n", "\n").replace("\r", "\n")
    if data.isascii() and all(len(line) <= 998 for line in data.split("\n")):
        encoding, body = "7bit", data
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(data.encode("utf-8"), quotetabs=False, istext=True).decode("ascii")
    if not body.endswith("\n"):
        body += "\n"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}" + body.replace("\n", CRLF)
    )


def _attachment_part(attachment: AttachmentData) -> str:
    body = base64.encodebytes(attachment.content).decode("ascii")
    return (
        f"Content-Type: {attachment.content_type}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"{_disposition(attachment.filename)}{CRLF}{CRLF}" + body.replace("\n", CRLF)
    )


_PERCENT_ENCODED = re.compile(r"%[0-9A-F]{2}|.")
_FILENAME_CHUNK = 55  # a continuation with its name and ";" fits on a 78-character line


def _disposition(filename: str) -> str:
    """Content-Disposition with the file name as is when it is short plain ASCII, else
    RFC 2231-encoded (percent-encoded UTF-8), in numbered continuations when it is long."""
    plain = f'Content-Disposition: attachment; filename="{filename}"'
    quotable = filename.isascii() and '"' not in filename and "\\" not in filename
    if quotable and len(plain) <= headers.MAX_LINE:
        return plain
    chunks, chunk = [], ""
    for unit in _PERCENT_ENCODED.findall(quote(filename, safe="")):  # never splits a %XX
        if len(chunk) + len(unit) > _FILENAME_CHUNK:
            chunks.append(chunk)
            chunk = ""
        chunk += unit
    chunks.append(chunk)
    if len(chunks) == 1:
        params = [f"filename*=utf-8''{chunk}"]
    else:
        params = [f"filename*{n}*={part}" for n, part in enumerate(chunks)]
        params[0] = params[0].replace("=", "=utf-8''", 1)
    words = ["attachment;", *(f"{param};" for param in params[:-1]), params[-1]]
    return headers.header("Content-Disposition", words)


def _multipart(subtype: str, parts: list[str]) -> str:
    while True:
        boundary = f"=_stagemail_{secrets.token_hex(12)}"  # "=_" never occurs in QP or base64
        if not any(boundary in part for part in parts):
            break
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046), so each part,
    # which ends with its own line break, gets one more.
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)
    return (
        headers.header("Content-Type", [f"multipart/{subtype};", f'boundary="{boundary}"'])
        + f"{CRLF}{CRLF}{body}--{boundary}--{CRLF}"
    )


def _body(message: ComposedMessage) -> str:
    if message.text and message.html:
        content = _multipart(
            "alternative", [_text_part(message.text, "plain"), _text_part(message.html, "html")]
        )
    elif message.html:
        content = _text_part(message.html, "html")
    else:
        content = _text_part(message.text, "plain")
    if not message.attachments:
        return content
    return _multipart("mixed", [content, *(_attachment_part(a) for a in message.attachments)])


def serialize(message: ComposedMessage) -> bytes:
    lines = [headers.addresses("From", [message.sender])]
    if message.to:
        lines.append(headers.addresses("To", message.to))
    if message.cc:
        lines.append(headers.addresses("Cc", message.cc))
    if message.reply_to:
        lines.append(headers.addresses("Reply-To", [message.reply_to]))
    lines.append(headers.text("Subject", message.subject, width=headers.MAX_LINE))
    lines.append(f"Date: {format_datetime(message.date)}")
    lines.append(f"Message-ID: {message.message_id}")
    for name, value in message.extra_headers().items():
        if headers.is_structured(name):
            lines.append(headers.structured(name, value))
        else:
            lines.append(headers.text(name, value))
    lines.append("MIME-Version: 1.0")
    return (CRLF.join(lines) + CRLF + _body(message)).encode("ascii")


@dataclass(frozen=True)
class ReadMessage:
    """Stored bytes read back, for pages that show a message and engines that take parts."""

    head: str  # the header block exactly as stored
    fields: tuple[tuple[str, str], ...]  # (name, value unfolded, still encoded), in order
    text: str
    html: str
    attachments: tuple[AttachmentData, ...]

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header, its value decoded (RFC 2047)."""
        return [(name, _decoded(value)) for name, value in self.fields]

    def header(self, name: str) -> str:
        return _decoded(self._field(name))

    def addresses(self, name: str) -> tuple[Address, ...]:
        # Parsed before decoding: a decoded display name may hold a comma.
        return tuple(
            Address(email, _decoded(display))
            for display, email in getaddresses([self._field(name)])
            if email
        )

    def bcc(self, recipients: Iterable[str]) -> list[str]:
        """The envelope's recipients that no header names: the blind copies."""
        shown = {a.email for a in (*self.addresses("To"), *self.addresses("Cc"))}
        return [r for r in recipients if r not in shown]

    def _field(self, name: str) -> str:
        return next((v for n, v in self.fields if n.lower() == name.lower()), "")


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _decoded(value: str) -> str:
    """The header's text; encoded words in a charset Python does not know stay as stored."""
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, HeaderParseError):
        return value


def _text(content: bytes, charset: str | None) -> str:
    """A part's text; in a charset Python does not know, read as UTF-8 as far as it goes."""
    try:
        return content.decode(charset or "utf-8", "replace")
    except LookupError:
        return content.decode("utf-8", "replace")


def read(raw: bytes) -> ReadMessage:
    """Read a message back: its headers decoded, the first text and HTML parts that are not
    attachments, and every other part as an attachment (an attached message whole).

    The standard parser's compat32 policy, decoding only what is asked for, is about
    twenty times faster than its default policy, and SendGrid's engine reads every message
    (as the SMTP ingress reads every message submitted).
    """
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace") + "\r\n"
    # The parser reads stored mail with LF line endings; every CRLF here is a line end.
    parsed = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.compat32)
    text = html = ""
    attachments = []
    for part in _leaves(parsed):
        kind = part.get_content_type()
        content = _content(part)
        body = part.get_content_disposition() != "attachment"
        if body and kind == "text/plain" and not text:
            text = _text(content, part.get_content_charset())
        elif body and kind == "text/html" and not html:
            html = _text(content, part.get_content_charset())
        else:
            attachments.append(AttachmentData(part.get_filename() or "", kind, content))
    fields = tuple((name, _FOLD.sub("", str(value))) for name, value in parsed.items())
    return ReadMessage(head, fields, text, html, tuple(attachments))


def _leaves(part: Message) -> Iterator[Message]:
    """Every part that is not a container; an attached message (message/rfc822) is one."""
    if part.get_content_maintype() == "multipart":
        for inner in cast(list[Message], part.get_payload()):
            yield from _leaves(inner)
    else:
        yield part


def _content(part: Message) -> bytes:
    if part.get_content_maintype() == "message" and part.is_multipart():
        return cast(Message, part.get_payload(0)).as_bytes()
    return cast(bytes, part.get_payload(decode=True) or b"")
