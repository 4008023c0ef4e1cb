"""OAuth2 sign-in chosen on a configuration, end to end: the editor's form, the connection
test's token step, and delivery by the worker with AUTH XOAUTH2. A token endpoint stand-in
and an aiosmtpd server that checks the XOAUTH2 string, both on loopback."""

import re

import pytest
from django.urls import reverse

from emailconfig.delivery import Address
from emailconfig.models import EmailConfiguration, Message, MessageStatus, Stage
from emailconfig.oauth import tokens
from emailconfig.services import outbox
from emailconfig.worker import Worker
from tests import factories
from tests.servers import smtp_server
from tests.token_servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX,
    TENANT,
    XOAuth2Handler,
    service_account_key,
    token_stand_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_token_cache():
    tokens.clear()
    yield
    tokens.clear()


@pytest.fixture
def stand_in(certificates, settings):
    with token_stand_in(tls=certificates.server_context(certificates.localhost)) as running:
        settings.STAGEMAIL_MICROSOFT_AUTHORITY = running.base
        yield running


@pytest.fixture
def server(stand_in):
    with smtp_server(XOAuth2Handler(valid=stand_in.issued), auth=False) as running:
        yield running


def form(port, ca_pem, **overrides):
    data = {
        "name": "Exchange Online",
        "stages": [Stage.objects.get(slug="qa").pk],
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_security": "none",  # loopback: the stand-in SMTP server has no TLS
        "smtp_requires_auth": "on",
        "smtp_sign_in": "microsoft365",
        "smtp_username": MAILBOX,
        "smtp_tenant": TENANT,
        "smtp_client_id": CLIENT_ID,
        "smtp_client_secret_0": CLIENT_SECRET,
        "trusted_ca": ca_pem,  # the token stand-in's certificate
        "from_email": MAILBOX,
        "recipients_mode": "app",
        "connect_timeout": "5",
        "send_timeout": "10",
        "recipients-TOTAL_FORMS": "0",
        "recipients-INITIAL_FORMS": "0",
    }
    return data | overrides


def create(client, data) -> EmailConfiguration:
    response = client.post(reverse("emailconfig:configuration_create"), data)
    assert response.status_code == 302, response.content.decode()
    return EmailConfiguration.objects.get(name=data["name"])


def deliver(config: EmailConfiguration, count: int = 1) -> list[Message]:
    credential = factories.api_credential(config)
    messages = [send(credential) for _ in range(count)]
    return [Message.objects.get(pk=message.pk) for message in messages]


def send(credential) -> Message:
    submission = outbox.Submission(to=(Address("ada@example.com"),), subject="Hi", text="Hello")
    message = outbox.accept(credential, submission)[0]
    Worker().run_once()
    return message


def test_a_microsoft_365_configuration_delivers_with_one_token(
    editor_client, server, stand_in, certificates
):
    config = create(editor_client, form(server.port, certificates.ca_pem))

    assert config.options["sign_in"] == "microsoft365"
    assert config.options["tenant"] == TENANT and config.options["client_id"] == CLIENT_ID
    assert config.secrets["client_secret"].reveal() == CLIENT_SECRET
    assert CLIENT_SECRET not in str(config.secrets) and "password" not in config.secrets
    first, second = deliver(config, 2)

    assert [first.status, second.status] == [MessageStatus.SENT, MessageStatus.SENT]
    assert len(server.handler.received) == 2
    assert len(stand_in.token_requests) == 1  # the second message reused the cached token
    request = stand_in.token_requests[0]
    assert request["path"] == f"/{TENANT}/oauth2/v2.0/token"
    assert request["form"]["client_secret"] == CLIENT_SECRET
    assert request["form"]["scope"] == "https://outlook.office365.com/.default"
    assert all(
        a == f"user={MAILBOX}\x01auth=Bearer token-1\x01\x01" for a in server.handler.attempts
    )


def test_the_connection_test_shows_the_token_step_before_authenticating(
    editor_client, server, stand_in, certificates
):
    config = create(editor_client, form(server.port, certificates.ca_pem))

    response = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))

    page = response.content.decode()
    steps = re.findall(r"Get an access token \(Microsoft 365\)|Authenticate|Say hello", page)
    assert steps[:3] == ["Say hello", "Get an access token (Microsoft 365)", "Authenticate"]
    assert "Microsoft 365 issued a token" in page
    assert CLIENT_SECRET not in page and "token-1" not in page
    assert server.handler.attempts == [f"user={MAILBOX}\x01auth=Bearer token-1\x01\x01"]


def test_a_wrong_client_secret_shows_the_providers_code_and_a_hint(
    editor_client, server, stand_in, certificates
):
    stand_in.error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
        "error_codes": [7000215],
    }
    config = create(editor_client, form(server.port, certificates.ca_pem))

    page = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))
    text = page.content.decode()

    assert "AADSTS7000215" in text and "not its Secret ID" in text
    assert server.handler.attempts == []  # no AUTH without a token
    assert CLIENT_SECRET not in text


def test_a_google_service_account_configuration_impersonates_the_sender(
    editor_client, server, stand_in, certificates
):
    key = service_account_key(stand_in.token_uri)
    data = form(server.port, certificates.ca_pem, smtp_sign_in="google", name="Workspace")
    data |= {"smtp_service_account_key_0": key.json}
    config = create(editor_client, data)

    (message,) = deliver(config)

    assert message.status == MessageStatus.SENT
    assert sorted(config.secrets) == ["service_account_key"]  # the client secret was not kept
    assert "tenant" not in config.options
    claims = key.claims(stand_in.token_requests[0]["form"]["assertion"])
    assert claims["sub"] == MAILBOX and claims["scope"] == "https://mail.google.com/"
    edit_page = editor_client.get(reverse("emailconfig:configuration_edit", args=[config.pk]))
    assert key.pem.splitlines()[1] not in edit_page.content.decode()  # write-only


def test_each_sign_in_asks_for_what_it_needs_on_its_own_fields(editor_client, certificates):
    blank = {"smtp_tenant": "", "smtp_client_id": "", "smtp_client_secret_0": ""}
    response = editor_client.post(
        reverse("emailconfig:configuration_create"), form(2525, certificates.ca_pem, **blank)
    )
    errors = response.context["form"].errors
    assert errors["smtp_tenant"] == ["Enter the tenant where the app is registered."]
    assert errors["smtp_client_id"] == ["Enter the app registration's application (client) ID."]
    assert errors["smtp_client_secret"] == ["Enter the app registration's client secret."]

    not_a_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    google = form(2525, certificates.ca_pem, smtp_sign_in="google")
    google["smtp_service_account_key_0"] = not_a_key
    response = editor_client.post(reverse("emailconfig:configuration_create"), google)
    errors = response.context["form"].errors
    assert errors["smtp_service_account_key"] == [
        "This is not a service account key: paste the JSON key file as downloaded from Google "
        "Cloud (with client_email, private_key and token_uri)."
    ]
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in response.content.decode()
    assert not EmailConfiguration.objects.exists()


def test_a_stored_client_secret_is_not_sent_to_another_server_without_typing_it(
    editor_client, server, stand_in, certificates
):
    config = create(editor_client, form(server.port, certificates.ca_pem))
    moved = form(server.port, certificates.ca_pem, smtp_host="localhost")
    moved |= {"smtp_client_secret_0": "", "based_on": "1"}

    response = editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]), moved
    )

    assert "type this secret again" in response.context["form"].errors["smtp_client_secret"][0]
    assert config.versions.count() == 1


def test_what_a_hidden_sign_in_field_holds_neither_blocks_the_save_nor_is_stored(
    editor_client, certificates
):
    data = form(2525, certificates.ca_pem, smtp_sign_in="password", smtp_tenant="not a tenant!")
    data |= {"smtp_password_0": "app-password", "smtp_service_account_key_0": "\n"}

    config = create(editor_client, data)

    assert config.options["sign_in"] == "password"
    assert "tenant" not in config.options and "client_id" not in config.options
    assert sorted(config.secrets) == ["password"]  # the client secret typed was not kept


def test_a_new_tenant_asks_for_the_client_secret_again_and_says_why(
    editor_client, server, stand_in, certificates
):
    config = create(editor_client, form(server.port, certificates.ca_pem))
    moved = form(server.port, certificates.ca_pem, smtp_tenant="fabrikam.onmicrosoft.com")
    moved |= {"smtp_client_secret_0": "", "based_on": "1"}

    response = editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]), moved
    )

    assert response.context["form"].errors["smtp_client_secret"] == [
        "The server changed (tenant), so type this secret again: a stored secret is only sent "
        "to the server it was entered for."
    ]


def test_a_trial_warns_only_of_the_secrets_its_sign_in_used(editor_client, server, certificates):
    data = form(server.port, certificates.ca_pem, smtp_sign_in="password")
    data |= {"smtp_password_0": "app-password"}  # and the client secret typed before

    response = editor_client.post(reverse("emailconfig:try_connection"), data)

    warnings = [str(m) for m in response.context["messages"]]
    assert any(
        w.startswith("The password you typed was used for this trial only") for w in warnings
    )
    assert not any("client secret" in w for w in warnings)


def test_a_stored_key_that_cannot_be_read_fails_the_token_step_not_the_page(
    editor_client, server, certificates
):
    config = factories.configuration(
        "qa",
        smtp_port=server.port,
        smtp_requires_auth=True,
        smtp_sign_in="google",
        smtp_username=MAILBOX,
        smtp_service_account_key='{"type": "service_account"}',  # as a document may hold it
    )

    response = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Get an access token" in page and "This is not a service account key" in page
    assert server.handler.attempts == []
