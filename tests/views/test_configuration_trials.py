"""Trying the configuration form's unsaved values: connection test and test-send, nothing saved.

Against real aiosmtpd servers on loopback; each test checks what the server received and
that no configuration or version was written.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from emailconfig.models import ConfigurationVersion, EmailConfiguration, Stage, TestSend
from emailconfig.services.previews import TEST_SENDS_PER_HOUR
from tests import factories
from tests.servers import PASSWORD, USERNAME, RecordingHandler, free_port, smtp_server

pytestmark = pytest.mark.django_db

TYPED_SECRET = "typed-never-echoed"


@dataclass
class GreetingHandler(RecordingHandler):
    """Also counts the clients that said hello, so a test sees whether anyone connected."""

    greetings: list[str] = field(default_factory=list)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.greetings.append(hostname)
        return await super().handle_EHLO(server, session, envelope, hostname, responses)


def _data(port, **overrides):
    data = {
        "name": "Relay",
        "stages": [Stage.objects.get(slug="qa").pk],
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_security": "none",
        "from_email": "noreply@example.com",
        "from_name": "Unsaved Team",
        "recipients_mode": "app",
        "connect_timeout": "5",
        "send_timeout": "10",
        "sendgrid_endpoint": "https://api.sendgrid.com/v3/mail/send",
        "recipients-TOTAL_FORMS": "0",
        "recipients-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def _secured(certificates, port, **overrides):
    """STARTTLS to localhost with the test CA and authentication, password left blank."""
    values = {
        "smtp_host": "localhost",
        "smtp_security": "starttls",
        "smtp_requires_auth": "on",
        "smtp_username": USERNAME,
        "trusted_ca": certificates.ca_pem,
    }
    return _data(port, **{**values, **overrides})


def _stored_relay(certificates, port):
    return factories.configuration(
        "qa",
        name="Relay",
        smtp_host="localhost",
        smtp_port=port,
        smtp_security="starttls",
        smtp_requires_auth=True,
        smtp_username=USERNAME,
        smtp_password=PASSWORD,
        trusted_ca=certificates.ca_pem,
    )


def _nothing_saved(config):
    config.refresh_from_db()
    return config.versions.count() == 1


def test_the_connection_test_of_an_edited_port_uses_it_and_saves_nothing(editor_client):
    config = factories.configuration("qa", name="Relay", smtp_port=free_port())
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        response = editor_client.post(
            reverse("emailconfig:try_connection", args=[config.pk]), _data(server.port)
        )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Every step succeeded with these unsaved settings. Nothing was sent or saved." in page
    assert "Say hello (EHLO)" in page
    assert len(handler.greetings) == 1 and handler.received == []
    assert f'value="{server.port}"' in page  # the form keeps what was typed
    assert _nothing_saved(config)
    assert config.options["port"] != server.port


def test_the_connection_test_of_a_new_configuration_creates_nothing(editor_client):
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        response = editor_client.post(reverse("emailconfig:try_connection"), _data(server.port))
    assert "Every step succeeded" in response.content.decode()
    assert len(handler.greetings) == 1
    assert not EmailConfiguration.objects.exists()
    assert not ConfigurationVersion.objects.exists()


def test_a_blank_password_uses_the_stored_one_for_the_same_host(editor_client, certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=True) as server:
        config = _stored_relay(certificates, server.port)
        response = editor_client.post(
            reverse("emailconfig:try_connection", args=[config.pk]),
            _secured(certificates, server.port),
        )
    page = response.content.decode()
    assert "Every step succeeded" in page
    assert "Authenticate" in page and "235" in page
    assert PASSWORD not in page
    assert _nothing_saved(config)


def test_a_typed_password_is_tried_and_never_echoed(editor_client, certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=True) as server:
        response = editor_client.post(
            reverse("emailconfig:try_connection"),
            _secured(certificates, server.port, smtp_password_0=TYPED_SECRET),
        )
    page = response.content.decode()
    assert "Authentication rejected" in page  # the server knows only PASSWORD
    assert TYPED_SECRET not in page
    # The input comes back empty, so the page says Save would not keep what was typed.
    assert "The password you typed was used for this trial only" in page


def test_a_stored_password_is_not_sent_to_a_host_typed_in_the_form(editor_client, certificates):
    tls = certificates.server_context(certificates.localhost)
    handler = GreetingHandler()
    config = _stored_relay(certificates, free_port())
    with smtp_server(handler, tls=tls, auth=True) as server:
        response = editor_client.post(
            reverse("emailconfig:try_connection", args=[config.pk]),
            _secured(certificates, server.port, smtp_host="127.0.0.1"),
        )
    page = response.content.decode()
    assert "The server changed (server host or IP, port), so type this secret again" in page
    assert "Nothing was tried" in page
    assert handler.greetings == []


def test_a_test_send_of_unsaved_values_reaches_the_server_and_saves_nothing(editor_client, editor):
    config = factories.configuration("qa", name="Relay", smtp_port=free_port())
    with smtp_server() as server:
        response = editor_client.post(
            reverse("emailconfig:try_send", args=[config.pk]),
            _data(server.port, envelope_from="bounces@example.com"),
        )
    page = response.content.decode()
    assert "Test message sent" in page
    [received] = server.handler.received
    assert received.rcpt_tos == ["editor@example.com"]
    assert received.mail_from == "bounces@example.com"
    assert received.message["From"] == "Unsaved Team <noreply@example.com>"
    record = TestSend.objects.get()
    assert (record.version, record.sent_by, record.outcome) == (None, editor, "delivered")
    assert record.subject == received.message["Subject"]
    assert _nothing_saved(config)


def test_a_test_send_of_unsaved_values_follows_the_unsaved_test_list(editor_client):
    with smtp_server() as server:
        editor_client.post(
            reverse("emailconfig:try_send"),
            _data(
                server.port,
                recipients_mode="test_list",
                **{"recipients-TOTAL_FORMS": "1", "recipients-0-email": "qa-lead@example.com"},
            ),
        )
    assert server.handler.received[0].rcpt_tos == ["qa-lead@example.com"]
    assert not EmailConfiguration.objects.exists()


def test_test_sends_of_unsaved_values_count_against_the_hourly_limit(editor_client, editor):
    config = factories.configuration("qa", name="Relay")
    TestSend.objects.bulk_create(
        TestSend(
            version=config.latest_version(),
            sent_by=editor,
            message_id=f"<{i}@x>",
            subject="s",
            outcome="delivered",
        )
        for i in range(TEST_SENDS_PER_HOUR)
    )
    with smtp_server() as server:
        response = editor_client.post(
            reverse("emailconfig:try_send", args=[config.pk]), _data(server.port)
        )
    assert "test messages in the last hour" in response.content.decode()
    assert server.handler.received == []


def test_an_invalid_form_tries_nothing(editor_client):
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        response = editor_client.post(
            reverse("emailconfig:try_connection"), _data(server.port, from_email="nope")
        )
    page = response.content.decode()
    assert "Nothing was tried. Correct the fields marked below." in page
    assert "Enter a valid email address." in page
    assert handler.greetings == []


def test_a_bad_test_list_row_sends_nothing(editor_client):
    with smtp_server() as server:
        response = editor_client.post(
            reverse("emailconfig:try_send"),
            _data(
                server.port,
                recipients_mode="test_list",
                **{
                    "recipients-TOTAL_FORMS": "2",
                    "recipients-0-email": "qa-lead@example.com",
                    "recipients-1-email": "not an address",
                },
            ),
        )
    assert "Nothing was tried" in response.content.decode()
    assert server.handler.received == []
    assert not TestSend.objects.exists()


@pytest.mark.parametrize("action", ["try_connection", "try_send"])
@pytest.mark.parametrize("persona", ["viewer_client", "outsider_client"])
def test_only_editors_may_try_settings(request, persona, action):
    client = request.getfixturevalue(persona)
    config = factories.configuration("qa", name="Relay")
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        for url in (
            reverse(f"emailconfig:{action}"),
            reverse(f"emailconfig:{action}", args=[config.pk]),
        ):
            assert client.post(url, _data(server.port)).status_code == 403
            assert client.get(url).status_code in (403, 405)
    assert handler.greetings == []


def test_trying_needs_a_post_with_a_csrf_token(editor):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post(reverse("emailconfig:try_connection"), _data(free_port()))
    assert response.status_code == 403
