"""Microsoft 365 client credentials through msal, against a token service stand-in."""

import logging
import time

import pytest

from emailconfig.oauth import MicrosoftClientCredentials, TokenError
from emailconfig.oauth.microsoft365 import HINTS, OUTLOOK_SCOPE, WRONG_TENANT
from tests.connections import watching
from tests.token_servers import CLIENT_ID, CLIENT_SECRET, TENANT


def provider(stand_in, certificates, **overrides):
    values = {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authority_host": stand_in.base,
        "trusted_ca": certificates.ca_pem,
        "timeout": 5.0,
    }
    values.update(overrides)
    return MicrosoftClientCredentials(**values)


def refusal(stand_in, certificates, **overrides):
    with pytest.raises(TokenError) as caught:
        provider(stand_in, certificates, **overrides).fetch()
    return caught.value


def aad_error(number, error, text):
    return {
        "error": error,
        "error_description": f"AADSTS{number}: {text}\r\nTrace ID: 1f0c\r\nCorrelation ID: 9d2e",
        "error_codes": [number],
        "trace_id": "1f0c",
    }


def test_it_gets_a_token_with_the_client_credentials_grant(stand_in, certificates):
    stand_in.expires_in = 3599
    token = provider(stand_in, certificates).fetch()
    assert token.value == "token-1"
    assert 3590 < token.expires_at - time.time() <= 3599
    [discovery] = [r for r in stand_in.requests if r["method"] == "GET"]
    assert discovery["path"] == f"/{TENANT}/v2.0/.well-known/openid-configuration"
    [sent] = stand_in.token_requests
    assert sent["path"] == f"/{TENANT}/oauth2/v2.0/token"
    assert sent["form"]["grant_type"] == "client_credentials"
    assert sent["form"]["client_id"] == CLIENT_ID
    assert sent["form"]["client_secret"] == CLIENT_SECRET
    assert set(sent["form"]["scope"].split()) >= {OUTLOOK_SCOPE}


CASES = [
    (
        700016,
        "unauthorized_client",
        "Application with identifier 'x' was not found in the directory 'Contoso'.",
    ),
    (7000215, "invalid_client", "Invalid client secret provided."),
    (7000222, "invalid_client", "The provided client secret keys for app 'x' are expired."),
    (65001, "invalid_grant", "The user or administrator has not consented to use the application."),
]


@pytest.mark.parametrize(("number", "error", "text"), CASES)
def test_each_error_code_comes_with_its_hint(stand_in, certificates, number, error, text):
    stand_in.error = aad_error(number, error, text)
    refused = refusal(stand_in, certificates)
    assert refused.code == f"AADSTS{number}"
    assert refused.message == f"Microsoft 365 refused the token request (AADSTS{number}): {text}"
    assert refused.hint == HINTS[f"AADSTS{number}"]
    assert refused.permanent


def test_a_missing_consent_hint_names_the_permission(stand_in, certificates):
    stand_in.error = aad_error(
        65001, "invalid_grant", "The user or administrator has not consented."
    )
    assert "admin consent" in refusal(stand_in, certificates).hint
    assert "SMTP.SendAsApp" in refusal(stand_in, certificates).hint


def test_an_unknown_tenant_is_told_as_a_wrong_tenant(stand_in, certificates):
    stand_in.tenant_error = aad_error(
        90002, "invalid_tenant", "Tenant 'contoso.example' not found."
    )
    refused = refusal(stand_in, certificates, tenant="contoso.example")
    assert refused.code == "AADSTS90002"
    assert "Tenant 'contoso.example' not found" in refused.message
    assert refused.hint.endswith(WRONG_TENANT)
    assert stand_in.token_requests == []  # no secret sent for a tenant that does not exist


def test_a_tenant_discovery_without_an_error_code_still_points_at_the_tenant(
    stand_in, certificates
):
    stand_in.tenant_error = {"message": "not here"}
    refused = refusal(stand_in, certificates)
    assert refused.code == "invalid_tenant"
    assert refused.hint == WRONG_TENANT


def test_a_server_error_is_temporary(stand_in, certificates):
    stand_in.error, stand_in.error_status = {"message": "busy"}, 503
    refused = refusal(stand_in, certificates)
    assert refused.code == "http_503"
    assert not refused.permanent


def test_a_server_error_with_an_error_code_is_temporary(stand_in, certificates):
    stand_in.error_status = 503
    stand_in.error = {"error": "temporarily_unavailable", "error_description": "Try later."}
    refused = refusal(stand_in, certificates)
    assert refused.code == "temporarily_unavailable"
    assert not refused.permanent


def test_the_client_secret_is_in_no_error_and_no_log_when_the_service_repeats_it(
    stand_in, certificates, caplog
):
    stand_in.error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
    }
    stand_in.echo = True
    with caplog.at_level(logging.DEBUG):
        refused = refusal(stand_in, certificates)
    assert "You sent: client_id=" in refused.message
    assert "[redacted]" in refused.message
    shown = f"{refused.message} {refused.hint} {refused!r} {caplog.text}"
    for form in (CLIENT_SECRET, "Xy8Q~s3cret%2Bvalue%2Fwith%3Dodd%26chars", "s3cret"):
        assert form not in shown
    assert CLIENT_SECRET not in repr(provider(stand_in, certificates))


def test_an_answer_that_is_not_json_is_told_as_such_and_not_logged_with_the_secret(
    stand_in, certificates, caplog
):
    stand_in.page, stand_in.error_status = "<h1>Bad gateway</h1> You sent:", 404
    with caplog.at_level(logging.DEBUG):
        refused = refusal(stand_in, certificates)
    assert refused.code == "http_404"
    assert refused.message == "Microsoft 365's token service answered 404 Not Found without JSON"
    assert "Bad gateway" in caplog.text  # msal logs the answer, secret removed
    assert CLIENT_SECRET not in caplog.text
    assert "Xy8Q~s3cret%2Bvalue" not in caplog.text


def test_it_posts_the_secret_over_https_only(certificates):
    with watching() as seen, pytest.raises(TokenError) as caught:
        MicrosoftClientCredentials(
            TENANT, CLIENT_ID, CLIENT_SECRET, authority_host="http://login.example.com"
        ).fetch()
    assert caught.value.code == "refused"
    assert "over https only" in caught.value.message
    assert seen.connected == []


def test_it_connects_only_to_ports_allowed_for_https(settings, certificates):
    settings.STAGEMAIL_ALLOWED_HTTPS_PORTS = []
    with watching() as seen, pytest.raises(TokenError) as caught:
        MicrosoftClientCredentials(
            TENANT, CLIENT_ID, CLIENT_SECRET, authority_host="https://localhost:8443"
        ).fetch()
    assert "Port 8443 is not allowed for HTTPS" in caught.value.message
    assert seen.connected == []


def test_a_loopback_token_service_needs_private_hosts_allowed(settings, stand_in, certificates):
    settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = False
    refused = refusal(stand_in, certificates)
    assert refused.code == "refused"
    assert "STAGEMAIL_ALLOW_PRIVATE_HOSTS" in refused.message
    assert stand_in.requests == []


def test_an_untrusted_certificate_is_refused(stand_in, certificates):
    refused = refusal(stand_in, certificates, trusted_ca="")
    assert refused.code == "tls"
    assert "certificate not accepted" in refused.message


def test_neither_the_secret_nor_the_token_is_logged_on_success(stand_in, certificates, caplog):
    with caplog.at_level(logging.DEBUG):
        token = provider(stand_in, certificates).fetch()
    assert "access_token" in caplog.text  # msal logs the exchange at debug level, masked
    assert token.value not in caplog.text
    assert CLIENT_SECRET not in caplog.text
