"""Reading what the local sink received: exact for good mail, never an exception for bad."""

from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from emailconfig.received import read


def _mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Ada <ada@example.com>"
    message["To"] = "grace@example.com"
    message["Subject"] = "Grüße from the sink"
    message.set_content("Hello in text.\n")
    message.add_alternative("<p>Hello in <b>HTML</b>.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="Rechnung März.pdf"
    )
    message.add_attachment(
        b"\x89PNG fake", maintype="image", subtype="png", filename="../../etc/passwd"
    )
    return message.as_bytes()


def test_it_reads_headers_parts_and_attachments_of_good_mail():
    mail = read(_mail())
    assert ("Subject", "Grüße from the sink") in mail.headers
    assert mail.head.startswith("From: Ada <ada@example.com>")
    assert "Subject: =?utf-8?" in mail.head  # the header block as it came
    assert mail.text == "Hello in text.\n"
    assert mail.html == "<p>Hello in <b>HTML</b>.</p>\n"
    assert [(a.filename, a.content_type, a.content) for a in mail.attachments] == [
        ("Rechnung März.pdf", "application/pdf", b"%PDF-1.4 fake"),
        ("passwd", "image/png", b"\x89PNG fake"),  # no directories in a download name
    ]
    assert mail.problem == ""


MALFORMED = {
    "empty": b"",
    "headers only": b"Subject: nothing else",
    "unknown charset": b"Subject: x\r\nContent-Type: text/plain; charset=klingon\r\n\r\nqapla'",
    "unknown charset in an encoded word": b"Subject: =?klingon?q?qapla?=\r\n\r\nbody",
    "raw 8-bit header": "Subject: Grüße\r\nFrom: Jörg <j@example.com>\r\n\r\nx".encode("latin-1"),
    "broken base64": b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@!!",
    "boundary never comes": (
        b'Content-Type: multipart/mixed; boundary="zzz"\r\n\r\nno parts here at all'
    ),
    "no boundary parameter": b"Content-Type: multipart/alternative\r\n\r\n--x\r\n\r\ntext",
    "unclosed last part": (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Type: application/octet-stream; name="a.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAEC"
    ),
    "garbage": bytes(range(256)) * 4,
    "deep nesting": b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(400)
    ),
}


def test_malformed_mail_still_reads_as_far_as_it_goes():
    for name, raw in MALFORMED.items():
        mail = read(raw)
        assert isinstance(mail.text, str) and isinstance(mail.html, str), name
    assert read(MALFORMED["unknown charset"]).text == "qapla'"
    assert read(MALFORMED["headers only"]).headers == (("Subject", "nothing else"),)
    assert read(MALFORMED["unclosed last part"]).attachments[0].content == b"\x00\x01\x02"
    assert read(MALFORMED["unclosed last part"]).attachments[0].filename == "a.bin"


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_any_bytes_read_without_an_exception(raw):
    read(raw)


@settings(max_examples=200)
@given(st.data())
def test_damaged_good_mail_reads_without_an_exception(data):
    raw = bytearray(_mail())
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    read(bytes(raw[:cut]))


def test_a_folded_attachment_type_reads_as_one_line():
    raw = (
        b'Subject: Hi\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
        b"Content-Type: application/x\r\n y\r\n"
        b'Content-Disposition: attachment; filename="a.txt"\r\n\r\nA\r\n--b--\r\n'
    )
    [attachment] = read(raw).attachments
    assert "\n" not in attachment.content_type and "\r" not in attachment.content_type
