"""SMTP sign-in with AUTH XOAUTH2: tokens from the stand-ins, an aiosmtpd server checking them."""

import base64
import logging
import time

import pytest

from emailconfig.composer import compose
from emailconfig.engines.smtp import SMTPEngine
from emailconfig.engines.smtp.xoauth2 import XOAuth2Login, sasl_string
from emailconfig.models import Outcome
from emailconfig.oauth import GoogleServiceAccount, MicrosoftClientCredentials, TokenCache
from emailconfig.oauth.microsoft365 import HINTS, REJECTED_HINT
from tests.factories import delivery_settings, request
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


@pytest.fixture
def stand_in(certificates):
    with token_stand_in(tls=certificates.server_context(certificates.localhost)) as running:
        yield running


@pytest.fixture
def microsoft(stand_in, certificates):
    return MicrosoftClientCredentials(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
        authority_host=stand_in.base,
        trusted_ca=certificates.ca_pem,
        timeout=5.0,
    )


@pytest.fixture
def server(stand_in):
    with smtp_server(XOAuth2Handler(valid=stand_in.issued), auth=False) as running:
        yield running


def engine(server, provider, cache, **overrides):
    values = {"smtp_port": server.port, "smtp_requires_auth": True, "smtp_username": MAILBOX}
    smtp = SMTPEngine(delivery_settings(**values | overrides))
    smtp.xoauth2 = XOAuth2Login(MAILBOX, provider, version_id=7, cache=cache)
    return smtp


def send(server, provider, cache):
    with engine(server, provider, cache) as smtp:
        return smtp.send(compose(request(), smtp.settings).wire)


def bearer(sasl: str) -> str:
    return sasl.split("auth=Bearer ")[1].rstrip("\x01")


def test_the_sasl_string_is_user_and_bearer_token_in_base64():
    decoded = base64.b64decode(sasl_string("ada@example.com", "ya29.token"))
    assert decoded == b"user=ada@example.com\x01auth=Bearer ya29.token\x01\x01"


def test_a_token_is_fetched_once_for_two_sends(server, stand_in, microsoft):
    cache = TokenCache()
    results = [send(server, microsoft, cache), send(server, microsoft, cache)]
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.DELIVERED]
    assert len(server.handler.received) == 2
    assert len(stand_in.token_requests) == 1
    assert [bearer(a) for a in server.handler.attempts] == ["token-1", "token-1"]
    assert all(a.startswith(f"user={MAILBOX}\x01") for a in server.handler.attempts)


def test_an_expired_token_is_fetched_again(server, stand_in, microsoft):
    stand_in.expires_in = 61
    cache = TokenCache(margin=60)
    send(server, microsoft, cache)
    time.sleep(1.1)
    assert send(server, microsoft, cache).delivered
    assert [bearer(a) for a in server.handler.attempts] == ["token-1", "token-2"]


def test_a_refused_token_is_replaced_once_and_the_message_sent(server, stand_in, microsoft):
    cache = TokenCache()
    send(server, microsoft, cache)
    server.handler.refuse = 1  # revoked early: the server answers 535 to the cached token
    result = send(server, microsoft, cache)
    assert result.delivered
    assert [bearer(a) for a in server.handler.attempts] == ["token-1", "token-1", "token-2"]
    assert len(stand_in.token_requests) == 2


def test_a_token_refused_twice_fails_with_the_providers_hint(server, stand_in, microsoft):
    server.handler.refuse = 2
    with engine(server, microsoft, TokenCache()) as smtp:
        result = smtp.send(compose(request(), smtp.settings).wire)
    assert result.outcome == Outcome.PERMANENT
    assert result.answer.startswith("XOAUTH2 sign-in rejected: 535 5.7.8")
    assert "status 401" in result.answer  # from the 334 error challenge
    assert len(server.handler.attempts) == 2
    assert server.handler.received == []


def test_a_google_service_account_signs_in_as_the_mailbox(server, stand_in, certificates):
    key = service_account_key(stand_in.token_uri)
    google = GoogleServiceAccount(key.json, MAILBOX, trusted_ca=certificates.ca_pem)
    assert send(server, google, TokenCache()).delivered
    [sent] = stand_in.token_requests
    assert key.claims(sent["form"]["assertion"])["sub"] == MAILBOX
    assert server.handler.attempts == [f"user={MAILBOX}\x01auth=Bearer token-1\x01\x01"]


def test_a_token_error_fails_the_send_without_connecting_again(server, stand_in, microsoft):
    stand_in.error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
        "error_codes": [7000215],
    }
    result = send(server, microsoft, TokenCache())
    assert result.outcome == Outcome.PERMANENT
    assert result.answer == (
        "Microsoft 365 refused the token request (AADSTS7000215): Invalid client secret provided."
    )
    assert result.connection_failed
    assert server.handler.attempts == []


def test_the_connection_test_shows_the_token_step_before_authenticating(
    server, stand_in, microsoft
):
    steps = engine(server, microsoft, TokenCache()).check_connection()
    assert [(s.name, s.ok) for s in steps] == [
        ("Connect", True),
        ("Say hello (EHLO)", True),
        ("Get an access token (Microsoft 365)", True),
        ("Authenticate", True),
        ("Sender accepted (MAIL FROM, then reset)", True),
    ]
    assert steps[2].answer == "Microsoft 365 issued a token, valid for 60 minutes"
    assert len(stand_in.token_requests) == 1  # the AUTH used the token the step fetched


def test_the_connection_test_fetches_a_new_token_each_time(server, stand_in, microsoft):
    cache = TokenCache()
    engine(server, microsoft, cache).check_connection()
    engine(server, microsoft, cache).check_connection()
    assert len(stand_in.token_requests) == 2


def test_a_failed_token_step_shows_the_code_and_hint_and_stops(server, stand_in, microsoft):
    stand_in.error = {
        "error": "unauthorized_client",
        "error_description": "AADSTS700016: Application with identifier 'x' was not found.",
        "error_codes": [700016],
    }
    steps = engine(server, microsoft, TokenCache()).check_connection()
    assert [(s.name, s.ok) for s in steps][-1] == ("Get an access token (Microsoft 365)", False)
    assert "(AADSTS700016)" in steps[-1].answer
    assert steps[-1].hint == HINTS["AADSTS700016"]
    assert server.handler.attempts == []


def test_a_refused_sign_in_says_the_mailbox_is_not_permitted(server, stand_in, microsoft):
    server.handler.mailbox = "someone-else@example.com"
    steps = engine(server, microsoft, TokenCache()).check_connection()
    assert (steps[-1].name, steps[-1].ok) == ("Authenticate", False)
    assert steps[-1].hint == REJECTED_HINT


def test_a_server_without_xoauth2_is_told_plainly(stand_in, microsoft):
    with smtp_server(auth=False) as plain:  # AUTH LOGIN and PLAIN only
        steps = engine(plain, microsoft, TokenCache()).check_connection()
    assert steps[-1].answer == "The server does not offer AUTH XOAUTH2 (only LOGIN, PLAIN)."
    assert "port 587" in steps[-1].hint


def test_the_token_is_in_no_answer_and_no_log_when_the_server_repeats_it(
    server, stand_in, microsoft, caplog
):
    server.handler.refuse = 2
    token = "token-1"
    # aiosmtpd logs the server's side; only Stagemail's own log lines count here.
    with caplog.at_level(logging.DEBUG), engine(server, microsoft, TokenCache()) as smtp:
        result = smtp.send(compose(request(), smtp.settings).wire)
    sasl = sasl_string(MAILBOX, token)
    assert sasl not in result.answer and token not in result.answer
    assert CLIENT_SECRET not in result.answer
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("stagemail"))
    assert sasl not in ours and token not in ours
