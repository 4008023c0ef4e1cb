import html
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from emailconfig.composer import AttachmentData
from emailconfig.delivery import Address
from emailconfig.models import Message, MessageStatus
from emailconfig.services import outbox
from emailconfig.views.framed import SHOWN_MAIL_POLICY
from emailconfig.worker import Worker
from tests import factories
from tests.servers import RecordingHandler, smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


@pytest.fixture
def credential(sink):
    config = factories.configuration(
        "qa",
        name="QA mail",
        smtp_port=sink.port,
        recipients_mode="test_list",
        test_recipients=[{"email": "qa@example.com", "name": ""}],
    )
    return factories.api_credential(config)


def submit(credential, subject="Invoice 7"):
    submission = outbox.Submission(
        to=(Address("ada@example.com", "Ada"),), subject=subject, text="Hello"
    )
    return outbox.accept(credential, submission)[0]


def test_the_outbox_lists_and_filters_messages(viewer_client, credential):
    sent = submit(credential, "Sent one")
    Worker().run_once()
    waiting = submit(credential, "Waiting one")

    page = viewer_client.get(reverse("emailconfig:outbox")).content.decode()
    assert "Sent one" in page and "Waiting one" in page

    page = viewer_client.get(reverse("emailconfig:outbox"), {"status": "sent"}).content.decode()
    assert "Sent one" in page and "Waiting one" not in page
    page = viewer_client.get(reverse("emailconfig:outbox"), {"status": "pending"}).content.decode()
    assert "Waiting one" in page and "Sent one" not in page
    page = viewer_client.get(
        reverse("emailconfig:outbox"), {"q": "ada@example.com"}
    ).content.decode()
    assert "Sent one" in page
    assert sent.pk != waiting.pk


def test_the_message_page_shows_recipients_attempts_and_headers(viewer_client, credential):
    message = submit(credential)
    Worker().run_once()
    page = viewer_client.get(
        reverse("emailconfig:message_detail", args=[message.pk])
    ).content.decode()
    assert "Ada &lt;ada@example.com&gt;" in page  # as the app named them
    assert "qa@example.com" in page  # delivered to (test list)
    assert "250 2.0.0 Ok: queued as TEST123" in page
    assert f"Message-ID: {message.message_id}" in page.replace("&lt;", "<").replace("&gt;", ">")
    assert "X-Stagemail-Original-Recipients: To: ada@example.com" in page


def test_the_message_page_shows_the_parts_and_lists_attachments_with_sizes(
    viewer_client, credential
):
    submission = outbox.Submission(
        to=(Address("ada@example.com"),),
        subject="Invoice 8",
        text="Attached <as promised>.",
        html="<p>Attached.</p><script>alert(1)</script>",
        attachments=(AttachmentData("invoice.pdf", "application/pdf", b"%PDF" * 25_000),),
    )
    message = outbox.accept(credential, submission)[0]
    page = viewer_client.get(
        reverse("emailconfig:message_detail", args=[message.pk])
    ).content.decode()
    assert "Content-Type: multipart/mixed" in page
    assert "Attached &lt;as promised&gt;." in page  # the text part, escaped
    # The HTML part only inside a sandboxed frame, from a URL whose own policy runs nothing
    # and loads nothing remote (a tracking pixel would fire from the admin's browser).
    html_url = reverse("emailconfig:message_html", args=[message.pk])
    assert f'sandbox src="{html_url}"' in page
    assert "{#" not in page  # no template comment shows
    assert "alert(1)" not in page
    framed = viewer_client.get(html_url)
    assert submission.html in framed.content.decode()
    assert framed["Content-Security-Policy"] == SHOWN_MAIL_POLICY
    assert 'invoice.pdf <span class="muted small">application/pdf, 97.7\xa0KB</span>' in page


def test_the_message_page_shows_recipients_to_be_tried_again(viewer_client, credential):
    message = submit(credential)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.DEFERRED,
        refused={"qa@example.com": "452 4.2.2 Mailbox full"},
        remaining_recipients=["qa@example.com"],
    )
    page = viewer_client.get(
        reverse("emailconfig:message_detail", args=[message.pk])
    ).content.decode()
    assert "qa@example.com: 452 4.2.2 Mailbox full" in page
    assert '<ul class="plain" id="remaining-recipients"><li>qa@example.com</li></ul>' in page


def test_an_editor_cancels_then_retries(editor_client, credential):
    message = submit(credential)
    editor_client.post(reverse("emailconfig:message_cancel", args=[message.pk]))
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED
    editor_client.post(reverse("emailconfig:message_retry", args=[message.pk]))
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED


def test_a_viewer_cannot_retry_or_cancel(viewer_client, credential):
    message = submit(credential)
    assert (
        viewer_client.post(reverse("emailconfig:message_cancel", args=[message.pk])).status_code
        == 403
    )
    assert Message.objects.get().status == MessageStatus.QUEUED


def test_the_dashboard_charts_sent_and_failed_and_shows_the_queue(viewer_client, credential, sink):
    submit(credential)
    Worker().run_once()
    sink.handler.data_answer = "554 5.7.1 No"
    submit(credential)
    Worker().run_once()
    submit(credential)  # still queued

    page = viewer_client.get(reverse("emailconfig:home")).content.decode()
    today = timezone.localdate().strftime("%b %-d")
    assert f"<title>{today}: 1 sent</title>" in page
    assert f"<title>{today}: 1 failed</title>" in page
    assert 'status=pending">1</a>' in page


HEADERS_SHOWN = r'<pre class="headers" id="headers"[^>]*>(.*?)</pre>'


@dataclass
class EveryDataHandler(RecordingHandler):
    """Records the bytes of every DATA, whatever it answers, so a refused attempt counts."""

    every_data: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        self.every_data.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        return await super().handle_DATA(server, session, envelope)


def test_every_attempt_delivers_the_bytes_the_page_shows_and_the_eml_holds(viewer_client, settings):
    """Defect 5: the message page and its .eml are the bytes on the wire, on every attempt."""
    settings.STAGEMAIL_RETRY_BASE = 0.05
    handler = EveryDataHandler(data_answer="451 4.3.0 Try again later")
    with smtp_server(handler) as server:
        credential = factories.api_credential(
            factories.configuration("qa", name="QA mail", smtp_port=server.port)
        )
        submission = outbox.Submission(
            to=(Address("ada@example.com", "Ada Lovelace"),),
            bcc=(Address("audit@example.com"),),
            subject="Invoice 9 – März",
            text="Hello Ada,\nyour invoice is attached.",
            html="<p>Hello <b>Ada</b>, your invoice is attached.</p>",
            attachments=(AttachmentData("invoice.pdf", "application/pdf", b"%PDF-1.7\x00" * 99),),
        )
        message = outbox.accept(credential, submission)[0]
        Worker().run_once()  # refused for now: deferred
        message.refresh_from_db()
        assert message.status == MessageStatus.DEFERRED
        handler.data_answer = "250 2.0.0 Ok: queued as SECOND"
        time.sleep(0.06)
        Worker().run_once()
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT

    (from1, to1, first), (from2, to2, second) = handler.every_data
    assert first == second  # the same bytes on both attempts, boundaries included
    assert from1 == from2 == "noreply@example.com"
    assert to1 == to2 == ["ada@example.com", "audit@example.com"]
    assert b"audit@example.com" not in first  # a Bcc is in the envelope only

    eml = viewer_client.get(reverse("emailconfig:message_eml", args=[message.pk]))
    assert eml["Content-Type"] == "message/rfc822"
    assert eml["Content-Disposition"] == f'attachment; filename="{message.pk}.eml"'
    assert eml.content == first

    page = viewer_client.get(reverse("emailconfig:message_detail", args=[message.pk]))
    shown = re.search(
        r'<pre class="headers" id="headers"[^>]*>(.*?)</pre>', page.content.decode(), re.S
    )
    head = first.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert html.unescape(shown.group(1)).encode("ascii") == head
    assert "=?utf-8?" in shown.group(1)  # exactly as stored: the subject still encoded
    assert "invoice.pdf" in page.content.decode()


def test_the_eml_and_html_check_permission_like_the_page(client, outsider_client, credential):
    message = submit(credential)
    for url in (
        reverse("emailconfig:message_detail", args=[message.pk]),
        reverse("emailconfig:message_eml", args=[message.pk]),
        reverse("emailconfig:message_html", args=[message.pk]),
    ):
        assert outsider_client.get(url).status_code == 403
        assert client.get(url).status_code == 302  # to sign in


def test_retry_and_cancel_are_offered_only_where_the_service_allows_them(editor_client, credential):
    message = submit(credential)
    url = reverse("emailconfig:message_detail", args=[message.pk])
    for status in MessageStatus:
        Message.objects.filter(pk=message.pk).update(status=status)
        page = editor_client.get(url).content.decode()
        message.refresh_from_db()
        offers_cancel = reverse("emailconfig:message_cancel", args=[message.pk]) in page
        offers_retry = reverse("emailconfig:message_retry", args=[message.pk]) in page
        assert (offers_cancel, offers_retry) == (message.can_cancel, message.can_retry), status
        assert outbox.cancel(message, by=None) is message.can_cancel
        Message.objects.filter(pk=message.pk).update(status=status)
        assert outbox.retry(message, by=None) is message.can_retry


def test_a_message_that_could_not_be_composed_is_not_offered_for_retry(editor_client, credential):
    # Migration 0008 fails a waiting message it cannot compose and keeps no bytes for it:
    # a retry would send an empty message with an empty sender.
    message = submit(credential)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, raw=b"", envelope_from="", last_error="Cannot compose: …"
    )
    message.refresh_from_db()
    page = editor_client.get(reverse("emailconfig:message_detail", args=[message.pk]))
    assert reverse("emailconfig:message_retry", args=[message.pk]) not in page.content.decode()
    assert message.can_retry is False
    assert outbox.retry(message, by=None) is False
    assert Message.objects.get(pk=message.pk).status == MessageStatus.FAILED


def test_the_search_help_names_the_message_id_in_words_a_browser_shows(viewer_client):
    # Field help is rendered as HTML, so "<Message-ID>" would be read as an unknown tag.
    page = viewer_client.get(reverse("emailconfig:outbox")).content.decode()
    assert "whole address, or a Message-ID." in page


MALFORMED = {
    "an unknown charset in a header": b"From: noreply@example.com\r\nTo: ada@example.com\r\n"
    b"Subject: =?x-unheard-of?q?Invoice?=\r\n\r\nHello\r\n",
    "an unknown charset in a part": b"From: noreply@example.com\r\nTo: ada@example.com\r\n"
    b"Subject: Invoice\r\nContent-Type: text/plain; charset=x-unheard-of\r\n\r\nHello\r\n",
    "8-bit junk in headers and body": b"From: J\xfcrgen <noreply@example.com>\r\n"
    b"Subject: Gr\xfc\xdfe \xff\xfe\r\n\r\nHello \xff\x00\r\n",
    "no header at all": b"\xff\xfe\x00\x01 not a message",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_the_message_page_shows_a_message_whose_stored_bytes_are_malformed(
    viewer_client, credential, raw
):
    message = submit(credential)
    Message.objects.filter(pk=message.pk).update(
        raw=raw,
        final_recipients=["j\u00fcrgen@example.com", "ada@example.com>\r\nRSET"],
        status=MessageStatus.FAILED,
        last_error="The address ...",
    )
    response = viewer_client.get(reverse("emailconfig:message_detail", args=[message.pk]))
    assert response.status_code == 200
    assert "j\u00fcrgen@example.com" in response.content.decode()


def test_a_scheduled_message_shows_when_it_is_due(viewer_client, credential):
    send_at = timezone.now().replace(microsecond=0) + timedelta(days=2)
    submission = outbox.Submission(
        to=(Address("ada@example.com", "Ada"),), subject="Later", text="Hi", send_at=send_at
    )
    message = outbox.accept(credential, submission)[0]
    page = viewer_client.get(reverse("emailconfig:outbox")).content.decode()
    assert f"scheduled for {send_at:%Y-%m-%d %H:%M}" in page
    detail = reverse("emailconfig:message_detail", args=[message.pk])
    page = viewer_client.get(detail).content.decode()
    assert f"<dt>Scheduled for</dt><dd>{send_at:%Y-%m-%d %H:%M:%S}" in page
