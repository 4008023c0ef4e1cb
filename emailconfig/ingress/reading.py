"""A message submitted over SMTP, read into the Submission the API would have made.

The envelope decides who gets it: a recipient the To or Cc header names is that (with the
display name the header gives), any other is a blind copy, and the Bcc header is dropped.
The headers the composer writes itself (From, Date, MIME, …) are replaced by its own; every
other header goes to the composer as an extra header, where the API's rule applies.
The bytes are read by emailconfig/mime.py's reader, the standard parser's light compat32
policy: its default policy took 2.4 ms of a message's time here, the reader 0.14.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Sequence
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from emailconfig import mime
from emailconfig.composer import COMPOSED_HEADERS
from emailconfig.delivery import Address
from emailconfig.mime import AttachmentData
from emailconfig.services.outbox import Submission, invalid_field


def read_submission(raw: bytes, recipients: Sequence[str]) -> Submission:
    """The submission for these bytes and envelope recipients; an ApiError (400) for a
    header given twice."""
    message = mime.read(raw)
    to_names = {a.email.lower(): a.name for a in message.addresses("To")}
    cc_names = {a.email.lower(): a.name for a in message.addresses("Cc")}
    to, cc, bcc = [], [], []
    for email in dict.fromkeys(recipients):  # in order, once each
        key = email.lower()
        if key in to_names:
            to.append(Address(email, to_names[key]))
        elif key in cc_names:
            cc.append(Address(email, cc_names[key]))
        else:
            bcc.append(Address(email))
    return Submission(
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=message.header("Subject"),
        text=message.text,
        html=message.html,
        reply_to=next(iter(message.addresses("Reply-To")), None),
        headers=_extra_headers(message.headers),
        attachments=tuple(_named(n, a) for n, a in enumerate(message.attachments, start=1)),
        message_id=message.header("Message-ID").strip() or None,
    )


def _extra_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    extra: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers:
        key = name.lower()
        if key in COMPOSED_HEADERS:
            continue
        if key in seen:
            raise invalid_field("headers", f"{name} appears more than once.")
        seen.add(key)
        extra[name] = value
    return extra


def _named(number: int, attachment: AttachmentData) -> AttachmentData:
    """A file name as the app meant it: some mailers encode it as a header (RFC 2047)
    rather than a parameter (RFC 2231); an inline part without one gets one."""
    filename = attachment.filename
    if "=?" in filename:
        with contextlib.suppress(LookupError, UnicodeError, HeaderParseError):
            filename = str(make_header(decode_header(filename)))
    if not filename:
        extension = mimetypes.guess_extension(attachment.content_type) or ""
        filename = f"attachment-{number}{extension}"
    return AttachmentData(filename, attachment.content_type, attachment.content)
