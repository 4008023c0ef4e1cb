"""Google Workspace service accounts through google-auth, against a token service stand-in."""

import json
import logging
import time

import pytest

from emailconfig.oauth import GMAIL_SCOPE, GoogleServiceAccount, TokenError
from emailconfig.oauth.google_workspace import CLOCK_SKEW, KEY_REVOKED
from tests.token_servers import MAILBOX, service_account_key


@pytest.fixture
def key(stand_in):
    return service_account_key(stand_in.token_uri)


def provider(key, certificates, **overrides):
    values = {"subject": MAILBOX, "trusted_ca": certificates.ca_pem, "timeout": 5.0}
    values.update(overrides)
    return GoogleServiceAccount(key.json, **values)


def refusal(key, certificates, **overrides):
    with pytest.raises(TokenError) as caught:
        provider(key, certificates, **overrides).fetch()
    return caught.value


def test_it_asks_for_a_token_as_the_mailbox_with_a_signed_assertion(stand_in, key, certificates):
    stand_in.expires_in = 3599
    token = provider(key, certificates).fetch()
    assert token.value == "token-1"
    assert 3590 < token.expires_at - time.time() <= 3600
    [sent] = stand_in.token_requests
    assert sent["form"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = key.claims(sent["form"]["assertion"])  # verified with the key's public half
    assert claims["sub"] == MAILBOX
    assert claims["scope"] == GMAIL_SCOPE
    assert claims["iss"] == "mailer@stagemail-test.iam.gserviceaccount.com"


def test_the_not_delegated_error_says_where_to_grant_the_scope(stand_in, key, certificates):
    stand_in.error = {
        "error": "unauthorized_client",
        "error_description": "Client is unauthorized to retrieve access tokens using this "
        "method, or client not authorized for any of the scopes requested.",
    }
    refused = refusal(key, certificates)
    assert refused.code == "unauthorized_client"
    assert refused.message.startswith("Google refused the token request (unauthorized_client): ")
    assert "Domain-wide delegation is not granted" in refused.hint
    assert GMAIL_SCOPE in refused.hint
    assert refused.permanent


@pytest.mark.parametrize(
    ("description", "hint"),
    [
        ("Invalid email or User ID", f"{MAILBOX} must be an active user"),
        (
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
            CLOCK_SKEW,
        ),
        ("Invalid JWT Signature.", KEY_REVOKED),
    ],
)
def test_an_invalid_grant_is_told_by_its_cause(stand_in, key, certificates, description, hint):
    stand_in.error = {"error": "invalid_grant", "error_description": description}
    refused = refusal(key, certificates)
    assert refused.code == "invalid_grant"
    assert description in refused.message
    assert hint in refused.hint


@pytest.mark.parametrize(
    "key_json",
    ["not json", "[]", json.dumps({"type": "service_account", "client_email": "a@b.c"})],
)
def test_something_else_than_a_key_file_is_refused_in_plain_words(key_json):
    with pytest.raises(TokenError) as caught:
        GoogleServiceAccount(key_json, MAILBOX)
    assert caught.value.code == "invalid_key"
    assert "paste the JSON key file" in caught.value.message


def test_a_key_whose_private_key_is_not_pem_is_refused_without_quoting_it(stand_in, key):
    info = json.loads(key.json) | {"private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key-at-all"}
    with pytest.raises(TokenError) as caught:
        GoogleServiceAccount(json.dumps(info), MAILBOX).fetch()
    assert caught.value.code == "invalid_key"
    assert "not-a-key-at-all" not in caught.value.message
    assert stand_in.requests == []


def test_the_signed_assertion_is_in_no_error_and_no_log_when_the_service_repeats_it(
    stand_in, key, certificates, caplog
):
    stand_in.error = {"error": "invalid_grant", "error_description": "Bad request."}
    stand_in.echo = True
    with caplog.at_level(logging.DEBUG):
        refused = refusal(key, certificates)
    assert "You sent: assertion=[redacted]&grant_type=" in refused.message
    [sent] = stand_in.token_requests
    assert sent["form"]["assertion"] not in f"{refused.message} {caplog.text}"


def test_the_private_key_is_in_no_error_and_no_log_when_the_service_quotes_it(
    stand_in, key, certificates, caplog
):
    stand_in.error = {
        "error": "invalid_grant",
        "error_description": f"Bad key {json.dumps(key.pem)} {key.pem}",
    }
    with caplog.at_level(logging.DEBUG):
        refused = refusal(key, certificates)
    assert "Bad key" in refused.message
    assert "[redacted]" in refused.message
    shown = f"{refused.message} {refused.hint} {caplog.text}"
    body_lines = [line for line in key.pem.splitlines()[1:-1] if len(line) >= 16]
    assert all(line not in shown for line in body_lines)
    assert key.pem not in repr(provider(key, certificates))


def test_it_asks_only_where_the_outbound_policy_allows(key, certificates):
    info = json.loads(key.json) | {"token_uri": "http://oauth2.example.com/token"}
    with pytest.raises(TokenError) as caught:
        GoogleServiceAccount(json.dumps(info), MAILBOX).fetch()
    assert caught.value.code == "refused"
    assert "over https only" in caught.value.message


def test_neither_the_key_nor_the_token_is_logged_on_success(stand_in, key, certificates, caplog):
    with caplog.at_level(logging.DEBUG):
        token = provider(key, certificates).fetch()
    [sent] = stand_in.token_requests
    assert token.value not in caplog.text
    assert sent["form"]["assertion"] not in caplog.text
    assert all(line not in caplog.text for line in key.pem.splitlines()[1:-1])
