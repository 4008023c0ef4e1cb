"""Preview and test-send through the portal, delivering to a real aiosmtpd on loopback."""

import html
import re

import pytest
from django.urls import reverse

from emailconfig.models import EmailTemplate, TestSend
from emailconfig.services.previews import TEST_SENDS_PER_HOUR
from emailconfig.views.framed import SHOWN_MAIL_POLICY
from tests import factories
from tests.servers import free_port, smtp_server
from tests.template_bombs import MEMORY_BOMBS, REFUSALS

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return EmailTemplate.objects.create(
        key="invoice",
        name="Invoice",
        subject="Invoice {{ number }}",
        text_body="Hello {{ name }}, invoice {{ number }} is ready.",
        html_body="<p>Hello <b>{{ name }}</b>, invoice {{ number }} is ready.</p>",
        sample_data={"name": "Ada", "number": 7},
    )


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


def _qa_config(port, **overrides):
    return factories.configuration(
        "qa",
        name="QA mail",
        smtp_port=port,
        recipients_mode="test_list",
        subject_prefix="[QA]",
        test_recipients=[{"email": "qa-lead@example.com", "name": "QA Lead"}],
        **overrides,
    )


def _post(client, config, template, follow=False, **extra):
    data = {"configuration": config.pk, "template": template.pk, "sample_data": "", **extra}
    return client.post(reverse("emailconfig:preview"), data, follow=follow)


def test_the_preview_shows_headers_recipients_and_both_parts(editor_client, template, sink):
    config = _qa_config(sink.port)
    response = _post(
        editor_client,
        config,
        template,
        sample_data='{"name": "Grace", "number": 9}',
        send_to="customer@example.com",
        preview="1",
    )
    page = response.content.decode()
    assert "Subject: [QA] Invoice 9" in page
    assert "X-Stagemail-Original-Recipients: To: customer@example.com" in page
    assert "QA Lead &lt;qa-lead@example.com&gt;" in page
    assert "Hello Grace, invoice 9 is ready." in page
    # The HTML part in a sandboxed frame, from a URL with its own policy (views/framed.py).
    [html_url] = re.findall(r'<iframe [^>]*sandbox src="([^"]+)"', page)
    framed = editor_client.get(html_url)
    assert "<p>Hello <b>Grace</b>" in framed.content.decode()
    assert framed["Content-Security-Policy"] == SHOWN_MAIL_POLICY
    assert sink.handler.received == []  # a preview sends nothing


def test_a_previews_html_is_only_for_the_session_that_built_it(
    editor_client, viewer_client, outsider_client, template, sink
):
    page = _post(editor_client, _qa_config(sink.port), template, preview="1").content.decode()
    [html_url] = re.findall(r'<iframe [^>]*sandbox src="([^"]+)"', page)
    assert editor_client.get(html_url).status_code == 200
    assert viewer_client.get(html_url).status_code == 404  # another session
    assert outsider_client.get(html_url).status_code == 403


def test_a_test_send_reaches_the_test_list_and_is_recorded(editor_client, editor, template, sink):
    config = _qa_config(sink.port)
    response = _post(editor_client, config, template, send_to="customer@example.com", send="1")

    assert "Test message sent" in response.content.decode()
    [received] = sink.handler.received
    assert received.rcpt_tos == ["qa-lead@example.com"]
    message = received.message
    assert message["Subject"] == "[QA] Invoice 7"
    assert message["X-Stagemail-Original-Recipients"] == "To: customer@example.com"
    text, html = message.iter_parts()
    assert "Hello Ada, invoice 7 is ready." in text.get_content()
    assert "<b>Ada</b>" in html.get_content()
    record = TestSend.objects.get()
    assert (record.outcome, record.sent_by, record.recipients) == (
        "delivered",
        editor,
        ["qa-lead@example.com"],
    )
    assert record.server_answer.startswith("250")


def _shown(page: str, pattern: str) -> str:
    return html.unescape(re.search(pattern, page, re.S).group(1))


def test_a_test_send_sends_exactly_the_bytes_the_preview_showed(editor_client, template, sink):
    """Defect 5: Message-ID, Date and MIME boundaries included, nothing composed again."""
    config = _qa_config(sink.port)
    inputs = {"sample_data": '{"name": "Grace", "number": 9}', "send_to": "c@example.com"}
    page = _post(editor_client, config, template, preview="1", **inputs).content.decode()
    shown = _shown(page, r'<pre class="raw-message" id="raw-message"[^>]*>(.*?)</pre>')
    sealed = _shown(page, r'<input type="hidden" name="composed" value="([^"]*)">')

    page = _post(editor_client, config, template, send="1", composed=sealed, **inputs)
    assert "Test message sent" in page.content.decode()
    [received] = sink.handler.received
    assert received.content == shown.encode("ascii")
    assert received.rcpt_tos == ["qa-lead@example.com"]
    assert TestSend.objects.get().message_id == received.message["Message-ID"]


def test_changed_inputs_or_a_forged_seal_are_composed_afresh(editor_client, template, sink):
    config = _qa_config(sink.port)
    page = _post(editor_client, config, template, preview="1").content.decode()
    sealed = _shown(page, r'<input type="hidden" name="composed" value="([^"]*)">')
    shown = _shown(page, r'<pre class="raw-message" id="raw-message"[^>]*>(.*?)</pre>')

    _post(editor_client, config, template, send="1", composed=sealed, send_to="x@example.com")
    _post(editor_client, config, template, send="1", composed=sealed[:-2] + "xx")
    changed, forged = sink.handler.received
    assert "To: x@example.com" in changed.message["X-Stagemail-Original-Recipients"]
    assert forged.message["Message-ID"] not in shown  # composed again, not taken on trust
    assert changed.content != shown.encode() != forged.content


def test_a_sealed_preview_sent_again_gets_a_new_message_id(editor_client, template, sink):
    # A double click or a reload must not send one Message-ID twice: receivers drop the repeat.
    config = _qa_config(sink.port)
    page = _post(editor_client, config, template, preview="1").content.decode()
    sealed = _shown(page, r'<input type="hidden" name="composed" value="([^"]*)">')
    for _ in range(3):
        _post(editor_client, config, template, send="1", composed=sealed)
    ids = [received.message["Message-ID"] for received in sink.handler.received]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_in_app_mode_a_test_goes_to_the_admins_own_address(editor_client, template, sink):
    config = factories.configuration("qa", name="App mail", smtp_port=sink.port)
    _post(editor_client, config, template, send="1")
    assert sink.handler.received[0].rcpt_tos == ["editor@example.com"]


def test_in_app_mode_typed_addresses_are_limited(editor_client, template, sink):
    config = factories.configuration("qa", name="App mail", smtp_port=sink.port)
    many = ",".join(f"p{i}@example.com" for i in range(6))
    response = _post(editor_client, config, template, send_to=many, send="1")
    assert response.context["form"].errors["send_to"] == ["At most 5 addresses for a test."]
    assert sink.handler.received == []


def test_test_sends_are_rate_limited_per_user(editor_client, editor, template, sink):
    config = _qa_config(sink.port)
    version = config.latest_version()
    TestSend.objects.bulk_create(
        TestSend(
            version=version, sent_by=editor, message_id=f"<{i}@x>", subject="s", outcome="delivered"
        )
        for i in range(TEST_SENDS_PER_HOUR)
    )
    response = _post(editor_client, config, template, send="1", follow=True)
    assert "test messages in the last hour" in response.content.decode()
    assert sink.handler.received == []


def test_a_failed_test_send_shows_the_reason(editor_client, template):
    config = _qa_config(free_port())  # nothing listens there
    response = _post(editor_client, config, template, send="1")
    page = response.content.decode()
    assert "Test message not sent" in page
    assert "Connection refused" in page
    assert TestSend.objects.get().outcome == "temporary"


def test_a_viewer_may_preview_but_not_send(viewer_client, template, sink):
    config = _qa_config(sink.port)
    response = _post(viewer_client, config, template, send="1")
    assert "You may preview through" in response.content.decode()
    assert "but not send tests through it" in response.content.decode()
    assert sink.handler.received == []


def test_the_connection_test_page_shows_each_step(editor_client, sink):
    config = _qa_config(sink.port)
    response = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))
    page = response.content.decode()
    assert "Every step succeeded. Nothing was sent." in page
    assert "Say hello (EHLO)" in page
    assert sink.handler.received == []


def test_the_connection_test_needs_change_permission(viewer_client, sink):
    config = _qa_config(sink.port)
    url = reverse("emailconfig:connection_test", args=[config.pk])
    assert viewer_client.post(url).status_code == 403


def test_a_stage_can_be_picked_instead_of_a_configuration(editor_client, template, sink):
    _qa_config(sink.port)
    response = editor_client.post(
        reverse("emailconfig:preview"),
        {"stage": factories.stage("qa").pk, "template": template.pk, "preview": "1"},
    )
    assert "Subject: [QA] Invoice 7" in response.content.decode()


def test_a_stage_without_a_configuration_says_so(editor_client, template):
    response = editor_client.post(
        reverse("emailconfig:preview"),
        {"stage": factories.stage("production").pk, "template": template.pk, "preview": "1"},
    )
    assert response.context["form"].errors["stage"] == ["No configuration covers Production yet."]


def test_a_typed_address_beyond_rfc_5321_is_refused_saying_which_limit(
    editor_client, template, sink
):
    config = factories.configuration("qa", name="App mail", smtp_port=sink.port)
    too_long = "l" * 65 + "@example.com"
    response = _post(editor_client, config, template, send_to=too_long, send="1")
    [error] = response.context["form"].errors["send_to"]
    assert too_long in error and "at most 64" in error
    assert sink.handler.received == []


def test_a_memory_bomb_saved_before_the_limits_is_neither_previewed_nor_sent(editor_client, sink):
    bomb = EmailTemplate.objects.create(
        key="bomb", name="Bomb", subject="Hi", text_body=MEMORY_BOMBS["str.format"]
    )
    response = _post(editor_client, _qa_config(sink.port), bomb, send="1")
    [error] = response.context["form"].errors["sample_data"]
    assert error.removeprefix("Text body: ") in REFUSALS
    assert sink.handler.received == []
    assert not TestSend.objects.exists()
