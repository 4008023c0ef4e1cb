"""The SendGrid engine against a local HTTP server standing in for SendGrid's v3 API."""

import pytest

from emailconfig.composer import compose
from emailconfig.delivery import Address
from emailconfig.engines import engine_for
from emailconfig.models import Outcome
from tests.factories import delivery_settings, request
from tests.servers import (
    CHUNKED,
    CLOSE,
    HTTP_1_0,
    IDLE_CLOSE,
    scripted_http_server,
    sendgrid_stand_in,
)

API_KEY = "SG.test-key-that-must-never-be-shown"


@pytest.fixture
def stand_in():
    with sendgrid_stand_in() as server:
        yield server


def settings_for(stand_in, **overrides):
    values = {
        "engine": "sendgrid",
        "sendgrid_api_key": API_KEY,
        "sendgrid_endpoint": stand_in.endpoint,
    }
    return delivery_settings(**{**values, **overrides})


def send(settings, *requests):
    with engine_for(settings) as engine:
        return [engine.send(compose(r, settings).wire) for r in requests]


def test_it_posts_the_exact_v3_json_with_the_key(stand_in):
    settings = settings_for(stand_in, reply_to=Address("help@example.com", "Help desk"))
    req = request(
        to=(Address("ada@example.com", "Ada Lovelace"),),
        cc=(Address("cc@example.com"),),
        bcc=(Address("audit@example.com"),),
        message_id="<fixed@example.com>",
        headers={"X-Campaign": "invoices"},
    )
    [result] = send(settings, req)

    assert result.outcome == Outcome.DELIVERED
    assert result.answer == "202 Accepted (X-Message-Id sg-test-id)"
    [sent] = stand_in.requests
    assert sent["method"] == "POST"
    assert sent["path"] == "/v3/mail/send"
    assert sent["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["json"] == {
        "from": {"email": "noreply@example.com", "name": "Example Team"},
        "subject": "Your invoice",
        "personalizations": [
            {
                "to": [{"email": "ada@example.com", "name": "Ada Lovelace"}],
                "cc": [{"email": "cc@example.com"}],
                "bcc": [{"email": "audit@example.com"}],
            }
        ],
        "content": [  # the parts as stored, each ending with its line break
            {"type": "text/plain", "value": "Hello Ada,\nyour invoice is ready.\n"},
            {"type": "text/html", "value": "<p>Hello <b>Ada</b>, your invoice is ready.</p>\n"},
        ],
        "headers": {"Message-ID": "<fixed@example.com>", "X-Campaign": "invoices"},
        "reply_to": {"email": "help@example.com", "name": "Help desk"},
    }


def test_a_test_list_redirection_reaches_sendgrid_with_its_header(stand_in):
    settings = settings_for(
        stand_in, recipients_mode="test_list", test_recipients=(Address("qa@example.com", "QA"),)
    )
    send(settings, request())
    sent = stand_in.requests[0]["json"]
    assert sent["personalizations"] == [{"to": [{"email": "qa@example.com", "name": "QA"}]}]
    assert sent["headers"]["X-Stagemail-Original-Recipients"] == "To: ada@example.com"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (301, Outcome.PERMANENT),  # a moved endpoint stays moved: the URL needs correcting
        (307, Outcome.PERMANENT),
        (429, Outcome.TEMPORARY),
        (500, Outcome.TEMPORARY),
        (503, Outcome.TEMPORARY),
    ],
)
def test_it_maps_each_answer_to_an_outcome(stand_in, status, outcome):
    stand_in.status = status
    stand_in.body = '{"errors":[{"message":"explained by SendGrid","field":null}]}'
    [result] = send(settings_for(stand_in), request())
    assert result.outcome == outcome
    assert result.answer.startswith(f"SendGrid answered {status} ")
    assert "explained by SendGrid" in result.answer


def test_a_rate_limit_carries_its_retry_after(stand_in):
    stand_in.status = 429
    stand_in.headers = {"Retry-After": "42"}
    [result] = send(settings_for(stand_in), request())
    assert result.outcome == Outcome.TEMPORARY
    assert result.retry_after == 42


def test_the_key_never_appears_in_an_answer_even_when_echoed(stand_in):
    stand_in.status = 401
    stand_in.body = f'{{"errors":[{{"message":"bad key {API_KEY}"}}]}}'
    [result] = send(settings_for(stand_in), request())
    assert API_KEY not in result.answer
    assert "[redacted]" in result.answer


def test_a_key_a_header_cannot_carry_fails_without_quoting_it(stand_in, caplog):
    broken_key = API_KEY + "\nX-Injected: 1"
    [result] = send(settings_for(stand_in, sendgrid_api_key=broken_key), request())
    assert result.outcome == Outcome.PERMANENT
    assert "cannot carry" in result.answer
    assert API_KEY not in result.answer
    assert API_KEY not in caplog.text
    assert stand_in.requests == []


def test_a_batch_reuses_one_kept_alive_connection(stand_in):
    results = send(settings_for(stand_in), request(), request(), request())
    assert [r.delivered for r in results] == [True, True, True]
    assert len(stand_in.requests) == 3
    assert len(stand_in.connections) == 1


def test_a_custom_endpoint_path_is_used_as_given(stand_in):
    endpoint = f"http://127.0.0.1:{stand_in.port}/eu-proxy/v3/mail/send"
    send(settings_for(stand_in, sendgrid_endpoint=endpoint), request())
    assert stand_in.requests[0]["path"] == "/eu-proxy/v3/mail/send"


def test_an_unreachable_endpoint_is_a_temporary_failure(stand_in):
    endpoint = stand_in.endpoint
    with sendgrid_stand_in() as other:
        closed = other.endpoint
    [result] = send(settings_for(stand_in, sendgrid_endpoint=closed), request())
    assert result.outcome == Outcome.TEMPORARY
    assert endpoint != closed


def test_the_connection_test_checks_the_key(stand_in):
    steps = engine_for(settings_for(stand_in)).check_connection()
    assert [(s.name, s.ok) for s in steps] == [
        ("Reach SendGrid", True),
        ("API key accepted, may send mail", True),
    ]
    assert stand_in.requests[0]["path"] == "/v3/scopes"
    assert stand_in.requests[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_the_connection_test_explains_a_rejected_key(stand_in):
    stand_in.status = 401
    steps = engine_for(settings_for(stand_in)).check_connection()
    assert steps[-1].name == "API key accepted, may send mail" and not steps[-1].ok
    assert "wrong or revoked" in steps[-1].hint


def test_a_key_without_mail_send_is_reported(stand_in):
    stand_in.body = '{"scopes": ["stats.read"]}'
    steps = engine_for(settings_for(stand_in)).check_connection()
    assert not steps[-1].ok
    assert "Mail Send permission" in steps[-1].hint


# However the server handles its connections, every message is delivered exactly once.


@pytest.fixture(params=["http", "https"])
def tls(request, certificates):
    if request.param == "https":
        return certificates.server_context(certificates.localhost)
    return None


def secure_settings_for(stand_in, certificates, **overrides):
    return settings_for(stand_in, trusted_ca=certificates.ca_pem, **overrides)


@pytest.mark.parametrize("behaviour", [CLOSE, HTTP_1_0, IDLE_CLOSE, CHUNKED])
def test_every_message_is_delivered_once_whatever_the_server_does_with_connections(
    behaviour, tls, certificates
):
    with sendgrid_stand_in(behaviour, tls=tls) as stand_in:
        settings = secure_settings_for(stand_in, certificates)
        with engine_for(settings) as engine:
            results = []
            for _ in range(3):
                results.append(engine.send(compose(request(), settings).wire))
                if behaviour != CHUNKED:
                    stand_in.wait_until_closed()  # the next message meets a closed connection
    assert [r.answer for r in results] == ["202 Accepted (X-Message-Id sg-test-id)"] * 3
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    assert [r["method"] for r in stand_in.requests] == ["POST"] * 3
    assert len(stand_in.connections) == (1 if behaviour == CHUNKED else 3)


@pytest.mark.parametrize("behaviour", [CLOSE, HTTP_1_0, IDLE_CLOSE, CHUNKED])
def test_the_connection_test_succeeds_whatever_the_server_does_with_connections(
    behaviour, tls, certificates
):
    with sendgrid_stand_in(behaviour, tls=tls) as stand_in:
        steps = engine_for(secure_settings_for(stand_in, certificates)).check_connection()
    assert [(s.name, s.ok, s.answer) for s in steps] == [
        ("Reach SendGrid", True, "200 OK"),
        ("API key accepted, may send mail", True, "200 OK, mail.send"),
    ]
    assert [r["path"] for r in stand_in.requests] == ["/v3/scopes"]


def test_a_request_the_server_took_but_never_answered_is_not_sent_again(stand_in):
    # Only the server knows whether it acted on it: sending it again could deliver it twice.
    stand_in.answer_limit = 1
    first, second = send(settings_for(stand_in), request(), request())
    assert first.delivered
    assert second.outcome == Outcome.TEMPORARY
    assert "closed the connection without answering" in second.answer
    assert len(stand_in.requests) == 2


def test_the_whole_answer_must_come_within_the_send_timeout():
    # One byte every 0.1 s never trips a per-read timeout; only a deadline ends it.
    answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
    with scripted_http_server(answer, every=0.1) as port:
        [result] = send(scripted(port, connect_timeout=2.0, send_timeout=1.0), request())
    assert result.outcome == Outcome.TEMPORARY
    assert result.answer == "Timed out waiting for SendGrid"


def scripted(port, **overrides):
    endpoint = f"http://127.0.0.1:{port}/v3/mail/send"
    return delivery_settings(
        engine="sendgrid", sendgrid_api_key=API_KEY, sendgrid_endpoint=endpoint, **overrides
    )


def test_an_interim_100_continue_is_skipped():
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 202 Accepted\r\nX-Message-Id: after-continue\r\nContent-Length: 0\r\n\r\n"
    )
    with scripted_http_server(answer) as port:
        [result] = send(scripted(port), request())
    assert result.delivered
    assert result.answer == "202 Accepted (X-Message-Id after-continue)"


def test_any_interim_answer_is_skipped():
    # http.client itself skips only 100 Continue.
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 202 Accepted\r\nX-Message-Id: after-hints\r\nContent-Length: 0\r\n\r\n"
    )
    with scripted_http_server(answer) as port:
        [result] = send(scripted(port), request())
    assert result.delivered
    assert result.answer == "202 Accepted (X-Message-Id after-hints)"


def test_an_answer_cut_short_is_a_temporary_failure():
    answer = b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\n{"errors":'
    with scripted_http_server(answer) as port:
        [result] = send(scripted(port), request())
    assert result.outcome == Outcome.TEMPORARY
    assert (
        result.answer == "The endpoint did not answer like an HTTP API (the answer was cut short)"
    )


def test_an_acceptance_whose_body_is_cut_short_is_still_delivered():
    # The status line is SendGrid's decision; a retry would send the message twice.
    answer = b"HTTP/1.1 202 Accepted\r\nX-Message-Id: cut\r\nContent-Length: 20\r\n\r\nabcde"
    with scripted_http_server(answer) as port:
        [result] = send(scripted(port), request())
    assert result.delivered
    assert result.answer == "202 Accepted (X-Message-Id cut)"


def test_a_huge_error_answer_is_kept_short():
    body = b"x" * 1_000_000
    answer = b"HTTP/1.1 503 Busy\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with scripted_http_server(answer) as port:
        [result] = send(scripted(port), request())
    assert result.outcome == Outcome.TEMPORARY
    assert result.answer.startswith("SendGrid answered 503 Busy: xxx")
    assert len(result.answer) < 2100


def test_the_key_never_appears_in_the_reason_phrase(stand_in):
    stand_in.status = 401
    stand_in.reason = f"Unauthorized {API_KEY}"
    [result] = send(settings_for(stand_in), request())
    assert API_KEY not in result.answer
    assert result.answer == "SendGrid answered 401 Unauthorized [redacted]"
    steps = engine_for(settings_for(stand_in)).check_connection()
    assert all(API_KEY not in step.answer for step in steps)


def test_an_endpoint_that_does_not_speak_http_is_a_failure_not_a_crash():
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def banner() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"220 smtp.example.com ESMTP ready\r\n")
        conn.close()

    threading.Thread(target=banner, daemon=True).start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/v3/mail/send"
    settings = delivery_settings(
        engine="sendgrid", sendgrid_api_key=API_KEY, sendgrid_endpoint=endpoint
    )
    [result] = send(settings, request())
    listener.close()
    assert result.outcome == Outcome.TEMPORARY
    assert "did not answer like an HTTP API" in result.answer


def test_encoded_word_lookalikes_and_long_names_reach_sendgrid_as_the_literal_text(stand_in):
    lookalike = "=?utf-8?q?Hi=0D=0ABcc:_v@example.com?="
    long_name = "語" * 200  # many encoded-words on the wire, one name again for SendGrid
    settings = settings_for(stand_in, sender=Address("noreply@example.com", long_name))
    send(
        settings,
        request(
            subject=lookalike,
            to=(Address("ada@faß.de", lookalike),),
            headers={"X-Note": lookalike},
        ),
    )
    sent = stand_in.requests[0]["json"]
    assert sent["from"] == {"email": "noreply@example.com", "name": long_name}
    assert sent["subject"] == lookalike
    assert sent["personalizations"][0]["to"] == [{"email": "ada@xn--fa-hia.de", "name": lookalike}]
    assert sent["headers"]["X-Note"] == lookalike
