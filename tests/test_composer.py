"""The one message builder: headers, encoding, redirection, and header-injection refusal."""

from dataclasses import replace
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emailconfig.composer import ComposeError, compose
from emailconfig.delivery import Address
from tests.factories import delivery_settings, request


def parsed(message):
    return message_from_bytes(message.raw, policy=policy.default)


def test_it_builds_multipart_alternative_with_every_header():
    settings = delivery_settings(reply_to=Address("help@example.com", "Help"))
    mime = parsed(compose(request(cc=(Address("cc@example.com"),)), settings))
    assert mime["From"] == "Example Team <noreply@example.com>"
    assert mime["Reply-To"] == "Help <help@example.com>"
    assert mime["To"] == "Ada Lovelace <ada@example.com>"
    assert mime["Cc"] == "cc@example.com"
    assert mime["Bcc"] is None
    assert mime["Date"] and mime["Message-ID"]
    assert [p.get_content_type() for p in mime.iter_parts()] == ["text/plain", "text/html"]


def test_bcc_goes_to_the_envelope_only():
    message = compose(request(bcc=(Address("audit@example.com"),)), delivery_settings())
    assert message.envelope_recipients == ["ada@example.com", "audit@example.com"]
    assert b"audit@example.com" not in message.raw


def test_each_message_gets_a_unique_message_id_and_a_retry_keeps_it():
    settings = delivery_settings()
    first, second = compose(request(), settings), compose(request(), settings)
    assert first.message_id != second.message_id
    retry = compose(request(message_id=first.message_id), settings)
    assert retry.message_id == first.message_id


def test_non_ascii_names_and_subjects_are_encoded_and_read_back():
    settings = delivery_settings(sender=Address("noreply@example.com", "Équipe Zürich"))
    message = compose(
        request(subject="Rechnung für Jürgen ✓", to=(Address("j@example.com", "Jürgen Groß"),)),
        settings,
    )
    raw = message.raw
    assert raw.isascii()
    mime = parsed(message)
    assert mime["Subject"] == "Rechnung für Jürgen ✓"
    assert mime["From"] == "Équipe Zürich <noreply@example.com>"
    assert mime["To"] == "Jürgen Groß <j@example.com>"


def test_an_internationalised_domain_goes_on_the_wire_in_ascii():
    message = compose(request(to=(Address("kim@bücher.example"),)), delivery_settings())
    assert message.envelope_recipients == ["kim@xn--bcher-kva.example"]


def test_an_internationalised_reply_to_domain_goes_on_the_wire_in_ascii():
    message = compose(request(reply_to=Address("help@bücher.example")), delivery_settings())
    assert parsed(message)["Reply-To"] == "help@xn--bcher-kva.example"


def test_the_test_list_replaces_every_recipient_and_keeps_the_originals():
    settings = delivery_settings(
        recipients_mode="test_list",
        test_recipients=(Address("qa@example.com", "QA"), Address("dev@example.com")),
    )
    message = compose(
        request(cc=(Address("cc@example.com"),), bcc=(Address("bcc@example.com"),)), settings
    )
    assert message.envelope_recipients == ["qa@example.com", "dev@example.com"]
    mime = parsed(message)
    assert mime["To"] == "QA <qa@example.com>, dev@example.com"
    assert mime["Cc"] is None
    assert mime["X-Stagemail-Original-Recipients"].strip() == (
        "To: ada@example.com; Cc: cc@example.com; Bcc: bcc@example.com"
    )
    assert mime["Subject"] == "Your invoice"


def test_the_subject_gets_a_prefix_only_when_configured():
    message = compose(request(), delivery_settings(subject_prefix="[QA]"))
    assert message.subject == "[QA] Your invoice"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"to": ()}, "to"),
        ({"to": (Address("not an address"),)}, "to"),
        ({"subject": ""}, "subject"),
        ({"text": "", "html": ""}, "text"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"to": (Address("jöhn@example.com"),)}, "to"),
    ],
)
def test_it_refuses_what_cannot_be_sent_naming_the_field(overrides, field):
    with pytest.raises(ComposeError) as caught:
        compose(request(**overrides), delivery_settings())
    assert caught.value.field == field


# Header injection, property-based: a CR or LF anywhere in any header value or
# address is refused, whatever surrounds it, and nothing is built.

line_break = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x0b", "\x1b", "\x85", "\u2028"])
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
injected = st.builds(lambda a, b, c: a + b + c, text, line_break, text)


def _places(value):
    """Every header value and address of a request or the settings, injected one at a time."""
    return [
        ("subject", lambda: (request(subject=value), delivery_settings())),
        ("to", lambda: (request(to=(Address("ada@example.com", value),)), delivery_settings())),
        ("to", lambda: (request(to=(Address(f"ada{value}@example.com"),)), delivery_settings())),
        ("cc", lambda: (request(cc=(Address("c@example.com", value),)), delivery_settings())),
        ("bcc", lambda: (request(bcc=(Address(value + "@example.com"),)), delivery_settings())),
        (
            "reply_to",
            lambda: (request(reply_to=Address("r@example.com", value)), delivery_settings()),
        ),
        ("headers", lambda: (request(headers={"X-Note": value}), delivery_settings())),
        ("from", lambda: (request(), delivery_settings(sender=Address("n@example.com", value)))),
        ("subject", lambda: (request(), delivery_settings(subject_prefix=value))),
        ("message_id", lambda: (request(message_id=f"<{value}@x>"), delivery_settings())),
        (
            "test recipients",
            lambda: (
                request(),
                delivery_settings(
                    recipients_mode="test_list", test_recipients=(Address("q@example.com", value),)
                ),
            ),
        ),
    ]


@given(value=injected)
def test_a_line_break_in_any_header_is_refused(value):
    for field, build in _places(value):
        req, settings = build()
        with pytest.raises(ComposeError) as caught:
            compose(req, settings)
        assert caught.value.field in (field, "to", "bcc"), (field, caught.value)


@given(name=text.filter(lambda s: not any(c in s for c in "\r\n")), subject=text)
def test_whatever_is_accepted_puts_no_line_break_into_a_header(name, subject):
    req = request(subject=subject or "x", to=(Address("ada@example.com", name),))
    try:
        message = compose(req, delivery_settings())
    except ComposeError:
        return
    head = message.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        assert line.startswith((b" ", b"\t")) or b":" in line  # only folding continues a header


def test_a_dataclass_copy_cannot_smuggle_a_line_break():
    settings = replace(delivery_settings(), reply_to=Address("a@example.com", "x\r\nBcc: v@x"))
    with pytest.raises(ComposeError):
        compose(request(), settings)


def test_attachments_make_a_mixed_message_with_the_parts_intact():
    from emailconfig.composer import AttachmentData

    pdf = AttachmentData("invoice 7.pdf", "application/pdf", b"%PDF-1.4 \x00\xff binary")
    mime = parsed(compose(request(attachments=(pdf,)), delivery_settings()))
    assert mime.get_content_type() == "multipart/mixed"
    [attachment] = list(mime.iter_attachments())
    assert attachment.get_filename() == "invoice 7.pdf"
    assert attachment.get_content() == b"%PDF-1.4 \x00\xff binary"


@pytest.mark.parametrize(
    "attachment",
    [
        ("a\r\nb.pdf", "application/pdf"),
        ("", "application/pdf"),
        ("a.pdf", "pdf; x=\r\n"),
        ("a.pdf", "text/plain\n"),  # a trailing line break, which `$` would let through
    ],
)
def test_unsafe_attachment_names_and_types_are_refused(attachment):
    from emailconfig.composer import AttachmentData

    with pytest.raises(ComposeError) as caught:
        compose(request(attachments=(AttachmentData(*attachment, b"x"),)), delivery_settings())
    assert caught.value.field == "attachments"


@pytest.mark.parametrize(
    "name",
    [
        "From",
        "Bcc",
        "Cc",
        "Content-Type",
        "X-Stagemail-Original-Recipients",
        "Subject",
        "Message-ID",
        "Received",
        "x-stagemail-anything",
        "X-Foo\n",
        "X-\u212aey",  # KELVIN SIGN, which matches "k" when case is ignored
        "X-Tracking-\u017fid",  # LATIN SMALL LETTER LONG S, which matches "s" likewise
    ],
)
def test_headers_that_belong_to_the_composer_cannot_be_set(name):
    with pytest.raises(ComposeError, match="is not allowed"):
        compose(request(headers={name: "value"}), delivery_settings())


@given(
    name=st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True).filter(
        lambda n: not n.lower().startswith("x-stagemail")
    )
)
def test_any_custom_x_header_is_sent_once(name):
    raw = compose(request(headers={name: "value"}), delivery_settings()).raw
    assert parsed_raw(raw).get_all(name) == ["value"]


def parsed_raw(raw):
    return message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "bad \ud800 surrogate"}, "subject"),
        ({"text": "bad \udfff"}, "text"),
        ({"to": (Address("a@\u3002example.com"),)}, "to"),
        ({"to": (Address("a@\xad.com"),)}, "to"),
        ({"text": "a\x00b"}, "text"),
        ({"html": "<p>a\x00b</p>"}, "html"),
    ],
)
def test_text_that_cannot_be_encoded_is_refused_not_crashed(overrides, field):
    with pytest.raises(ComposeError) as caught:
        compose(request(**overrides), delivery_settings())
    assert caught.value.field == field
