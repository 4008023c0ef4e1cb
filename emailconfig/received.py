"""Read mail that the local sink received, whatever its shape.

Anything may arrive over SMTP (any program on the machine can send to the sink), so every
step is lenient: unknown charsets, broken base64, missing boundaries or a header the parser
chokes on give what can be read plus a note, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from pathlib import PurePosixPath, PureWindowsPath

from emailconfig.mime import AttachmentData

_UNSAFE_IN_FILENAME = re.compile(r"[\x00-\x1f\x7f]")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class ReceivedMail:
    head: str  # the header block as received
    headers: tuple[tuple[str, str], ...]  # each header with its value decoded
    text: str
    html: str
    attachments: tuple[AttachmentData, ...]
    problem: str = ""  # why the parts could not be read, when they could not


def read(raw: bytes) -> ReceivedMail:
    """The header block, decoded headers, first text and HTML parts, and every other
    leaf part as a downloadable attachment."""
    head = _BLANK_LINE.split(raw, maxsplit=1)[0].decode("utf-8", "replace")
    try:
        parsed = message_from_bytes(raw, policy=policy.compat32)
        headers = tuple((str(name), _decoded(value)) for name, value in parsed.items())
    except Exception as exc:  # whatever the bytes, the page shows something
        return ReceivedMail(head, (), "", "", (), f"The headers could not be read ({exc!r}).")
    try:
        text, html, attachments = _parts(parsed)
    except Exception as exc:
        return ReceivedMail(head, headers, "", "", (), f"The parts could not be read ({exc!r}).")
    return ReceivedMail(head, headers, text, html, attachments)


def _decoded(value: object) -> str:
    """An RFC 2047 header value as text; an undecodable one as it came."""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # unknown charset, broken encoded-word
        return str(value)


def _parts(message: Message) -> tuple[str, str, tuple[AttachmentData, ...]]:
    text = html = ""
    attachments = []
    for number, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        kind = "".join(part.get_content_type().split())  # unfolded: a header must carry it
        disposition = (part.get_content_disposition() or "").lower()
        if disposition != "attachment" and kind == "text/plain" and not text:
            text = _text_of(part)
        elif disposition != "attachment" and kind == "text/html" and not html:
            html = _text_of(part)
        else:
            content = part.get_payload(decode=True)
            filename = _safe_filename(_decoded(part.get_filename() or ""), number, kind)
            attachments.append(AttachmentData(filename, kind, content or b""))
    return text, html, tuple(attachments)


def _text_of(part: Message) -> str:
    content = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return content.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", "replace")


def _safe_filename(name: str, number: int, kind: str) -> str:
    """A name to download as: no directories, no control characters, never empty."""
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = _UNSAFE_IN_FILENAME.sub("", name).strip(" .")
    if name:
        return name[:200]
    return f"part-{number}.{kind.rsplit('/', 1)[-1][:20] or 'bin'}"
