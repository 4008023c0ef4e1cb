"""The one message builder: headers, encoding, redirection, and header-injection refusal."""

from dataclasses import replace
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emailconfig import mime
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


@pytest.mark.parametrize(
    "message_id", ["<20261207.abc-1$x@app.example>", "<a+b/c=d?e^f_g`h{i|j}k~l@[192.0.2.1]>"]
)
def test_an_app_s_own_message_id_is_kept_as_given(message_id):
    composed = compose(request(message_id=message_id), delivery_settings())
    assert parsed(composed)["Message-ID"] == message_id


@pytest.mark.parametrize(
    "message_id",
    ["abc@app.example", "<abc>", "<a b@app.example>", "<ä@app.example>", "<a@b@c>", "<@x>",
     f"<{'a' * 250}@app.example>"],
)  # fmt: skip
def test_a_message_id_that_is_not_one_is_refused(message_id):
    with pytest.raises(ComposeError) as refused:
        compose(request(message_id=message_id), delivery_settings())
    assert refused.value.field == "message_id"


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


# Encoded-words (RFC 2047) are made by encoders only: text that merely looks like one
# is the sender's literal text, and a reader must see exactly that, never its decoding.

LOOKALIKES = [
    "=?utf-8?q?Hi=0D=0ABcc:_v@example.com?=",
    "=?utf-8?b?UGF5cGFsIFNlY3VyaXR5?=",
    "Invoice =?ISO-8859-1?Q?caf=E9?= from =?utf-8?B?w6k=?=",
    "Bank =?utf-8?q?=3Csupport@bank.example=3E?=",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_text_that_looks_like_an_encoded_word_reaches_the_reader_literally(text):
    from tests.engines.test_smtp import send
    from tests.servers import smtp_server

    req = request(
        subject=text,
        to=(Address("ada@example.com", text),),
        reply_to=Address("help@example.com", text),
        headers={"X-Note": text},
    )
    with smtp_server() as server:
        settings = delivery_settings(
            sender=Address("noreply@example.com", text), smtp_port=server.port
        )
        send(settings, req)
    received = server.handler.received[0].message
    assert received["Subject"] == text
    assert received["X-Note"] == text
    for name in ("From", "To", "Reply-To"):
        [address] = received[name].addresses
        assert address.display_name == text, name
        assert address.addr_spec != "support@bank.example"


# Header lines: at most 998 octets whatever the input (RFC 5322 2.1.1), 78 where they
# can be folded. The longest inputs every path allows. A name longer than one encoded-word
# is read back with the project's reader: Python 3.13.0's policy.default puts a space
# between adjacent encoded-words of a display name (CPython gh-128110).

LONGEST_NAMES = [
    "n" * 200,  # one word: folds only once encoded
    "語" * 200,
    "😀" * 200,
    '"\\' * 100,  # doubles when quoted
    "=?utf-8?q?x?=" * 15,
    "Ünïcödé " * 25,
]


def _longest_address(number: int) -> str:
    domain = f"{'d' * 63}.{'e' * 63}.{'f' * 61}"  # 189 octets
    return f"{number:03d}{'l' * 61}@{domain}"  # 64 + 1 + 189 = 254


def _longest_request(name: str) -> object:
    from emailconfig.composer import MAX_HEADERS, MAX_RECIPIENTS, AttachmentData

    recipients = tuple(Address(_longest_address(n), name) for n in range(MAX_RECIPIENTS))
    values = ["語" * 998, "v" * 998, "v" * 990]  # 990 fits alone, not after the name
    headers = {f"X-{'h' * 57}{n:03d}": values[n % 3] for n in range(19)}
    assert len(headers) < MAX_HEADERS
    headers["List-Unsubscribe"] = (
        f"<https://example.com/{'u' * 476}>, <mailto:{'m' * 477}@example.com>"
    )
    assert len(headers["List-Unsubscribe"]) == 998
    attachment = AttachmentData("語" * 255, "application/" + "x" * 115, b"data")
    return request(
        subject="s" * 998 if name.isascii() else name * 5,
        to=recipients[:40],
        cc=recipients[40:80],
        bcc=recipients[80:],
        reply_to=Address(_longest_address(999), name),
        headers=headers,
        attachments=(attachment,),
    )


def _long_lines(raw: bytes) -> list[bytes]:
    return [line[:60] + b"..." for line in raw.split(b"\r\n") if len(line) > 998]


@pytest.mark.parametrize("name", LONGEST_NAMES)
def test_no_header_line_is_longer_than_998_octets_even_for_the_longest_input(name):
    settings = delivery_settings(
        sender=Address(_longest_address(0), name), subject_prefix="[" + "p" * 38 + "]"
    )
    message = compose(_longest_request(name), settings)
    assert _long_lines(message.raw) == []
    read = mime.read(message.raw)
    assert read.addresses("From")[0].name == name.strip()
    assert [a.name for a in read.addresses("To")] == [name.strip()] * 40
    assert read.attachments[0].filename == "語" * 255


def test_the_longest_message_arrives_with_no_line_over_998_octets():
    from tests.engines.test_smtp import send
    from tests.servers import smtp_server

    name = "語" * 200
    with smtp_server() as server:
        settings = delivery_settings(
            smtp_port=server.port, sender=Address(_longest_address(0), name)
        )
        send(settings, _longest_request(name))
    [received] = server.handler.received
    assert _long_lines(received.content) == []
    assert mime.read(received.content).addresses("From")[0].name == name
    assert received.message["Subject"] == name * 5


def test_display_names_and_subjects_fold_to_78_characters():
    names = ["n" * 200, "語" * 200, "Ada " * 50, '"Quoted, Name" ' * 13]
    settings = delivery_settings(sender=Address("noreply@example.com", names[0]))
    req = request(
        subject="word " * 200 + "x" * 150,
        to=tuple(Address(f"user{i}@example.com", n) for i, n in enumerate(names)),
        reply_to=Address("help@example.com", names[1]),
    )
    head = compose(req, settings).raw.split(b"\r\n\r\n")[0]
    assert [line for line in head.split(b"\r\n") if len(line) > 78] == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("<https://example.com/" + "u" * 968 + ">", "too long"),  # 990: fits alone, not after
        ("<https://bücher.example/unsubscribe>", "ASCII only"),  # RFC 2047 cannot encode a URL
    ],
)
def test_a_structured_header_that_cannot_go_as_it_is_is_refused(value, words):
    with pytest.raises(ComposeError, match=f"List-Unsubscribe.*{words}") as caught:
        compose(request(headers={"List-Unsubscribe": value}), delivery_settings())
    assert caught.value.field == "headers"


# Addresses: IDNA 2008 with UTS 46 mapping, as browsers do, and RFC 5321's lengths.


@pytest.mark.parametrize(
    ("address", "on_the_wire"),
    [
        ("kim@faß.de", "kim@xn--fa-hia.de"),  # IDNA 2003 made this fass.de, another domain
        ("kim@Bücher.Example", "kim@xn--bcher-kva.example"),
        ("kim@ＥＸＡＭＰＬＥ.ＣＯＭ", "kim@example.com"),  # full-width, mapped by UTS 46
        ("kim@example.com", "kim@example.com"),
    ],
)
def test_domains_go_on_the_wire_in_their_idna_2008_form(address, on_the_wire):
    message = compose(request(to=(Address(address),)), delivery_settings())
    assert message.envelope_recipients == [on_the_wire]
    assert parsed(message)["To"].addresses[0].addr_spec == on_the_wire


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("kim@☃.net", "IDNA"),  # a symbol: allowed by IDNA 2003, not 2008
        ("kim@i❤.ws", "IDNA"),
        ("kim@xn--zz.example", "IDNA"),  # not valid punycode
        ("l" * 65 + "@example.com", "64"),
        (f"kim@{'d' * 63}.{'e' * 63}.{'f' * 63}.{'g' * 60}.com", "255"),
        (f"{'l' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 63}.example", "254"),
        ("\u212aim@example.com", "ASCII"),  # KELVIN SIGN, which Django's validator lets by
    ],
)
def test_addresses_beyond_idna_2008_or_rfc_5321_are_refused_saying_why(address, words):
    for overrides in ({"to": (Address(address),)}, {"reply_to": Address(address)}):
        with pytest.raises(ComposeError, match=words) as caught:
            compose(request(**overrides), delivery_settings())
        assert caught.value.field in ("to", "reply_to")
    with pytest.raises(ComposeError, match=words) as caught:
        compose(request(), delivery_settings(envelope_from=address))
    assert caught.value.field == "envelope_from"


def test_the_longest_address_rfc_5321_allows_is_accepted():
    address = _longest_address(1)
    assert len(address) == 254
    assert compose(request(to=(Address(address),)), delivery_settings()).envelope_recipients == [
        address
    ]
