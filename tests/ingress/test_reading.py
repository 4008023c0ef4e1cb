"""What an SMTP submission becomes: recipients from the envelope, headers, parts."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from emailconfig.delivery import Address
from emailconfig.ingress.reading import read_submission
from emailconfig.services.outbox import ApiError


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def message(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "App <app@app.example>"
    mail["To"] = "Ada Lovelace <ada@example.com>, grace@example.com"
    mail["Subject"] = "Grüße"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Hello\n")
    return mail


def test_the_envelope_decides_and_headers_give_the_names():
    mail = message(Cc="Linus <LINUS@example.com>", Bcc="audit@example.com")
    submission = read_submission(
        wire(mail), ["ada@example.com", "linus@example.com", "audit@example.com"]
    )
    assert submission.to == (Address("ada@example.com", "Ada Lovelace"),)  # grace: no RCPT
    assert submission.cc == (Address("linus@example.com", "Linus"),)
    assert submission.bcc == (Address("audit@example.com"),)
    assert submission.subject == "Grüße"
    assert submission.text == "Hello\n"


def test_the_composer_s_headers_are_left_to_it_and_the_others_passed_on():
    mail = message(
        Reply_To="Help <help@app.example>",
        Message_ID="<1@app.example>",
        X_Campaign="spring",
        List_Unsubscribe="<https://app.example/u>",
    )
    submission = read_submission(wire(mail), ["ada@example.com"])
    assert submission.reply_to == Address("help@app.example", "Help")
    assert submission.message_id == "<1@app.example>"
    assert submission.headers == {
        "X-Campaign": "spring",
        "List-Unsubscribe": "<https://app.example/u>",
    }


def test_a_header_given_twice_is_refused():
    mail = message(X_Campaign="spring")
    mail["X-Campaign"] = "summer"
    with pytest.raises(ApiError) as refused:
        read_submission(wire(mail), ["ada@example.com"])
    assert refused.value.fields == {"headers": ["X-Campaign appears more than once."]}


def test_every_part_that_is_not_a_body_is_an_attachment():
    mail = message()
    mail.add_alternative("<p>Hello <img src='cid:logo'></p>", subtype="html")
    html = mail.get_payload()[1]
    html.add_related(b"\x89PNG logo", "image", "png", cid="<logo>")  # inline, no file name
    mail.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="Ü.pdf")
    forwarded = EmailMessage()
    forwarded["Subject"] = "Earlier"
    forwarded.set_content("Before\n")
    mail.add_attachment(forwarded)
    encoded = EmailMessage()
    encoded.set_content(b"a;b\n", maintype="text", subtype="csv")
    mail.attach(encoded)
    encoded.replace_header("Content-Type", 'text/csv; name="=?utf-8?q?Bericht_M=C3=A4rz.csv?="')
    encoded["Content-Disposition"] = 'attachment; filename="=?utf-8?q?Bericht_M=C3=A4rz.csv?="'

    submission = read_submission(wire(mail), ["ada@example.com"])
    assert submission.text == "Hello\n"
    assert submission.html.startswith("<p>Hello")
    names = [(a.filename, a.content_type) for a in submission.attachments]
    assert names == [
        ("attachment-1.png", "image/png"),
        ("Ü.pdf", "application/pdf"),
        ("attachment-3.eml", "message/rfc822"),
        ("Bericht März.csv", "text/csv"),
    ]
    assert submission.attachments[0].content == b"\x89PNG logo"
    assert b"Subject: Earlier" in submission.attachments[2].content
