"""A server that repeats a secret back never gets it shown, stored or logged."""

from __future__ import annotations

import base64
import json
import socket
import threading
from urllib.parse import quote, quote_plus

import pytest

from emailconfig.composer import compose
from emailconfig.engines import engine_for
from tests.factories import delivery_settings, request
from tests.servers import RecordingHandler, _raw_server, sendgrid_stand_in, smtp_server

USERNAME = "mailer"
PASSWORD = 'p@ss word/"+&\\'  # characters that URL and JSON escaping change
API_KEY = "SG.key-to+keep/secret"


def forms_of(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    ]


def password_forms() -> list[str]:
    return [*forms_of(PASSWORD), base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()]


def assert_hidden(text: str, secret: str) -> None:
    for form in password_forms() if secret == PASSWORD else forms_of(secret):
        assert form not in text, f"{form!r} shown in {text!r}"


@pytest.mark.parametrize("form", password_forms())
def test_an_smtp_answer_repeating_the_password_is_redacted(form, monkeypatch):
    # A password is stored only when the configuration signs in (only options that apply are
    # stored), so the server takes the sign-in and repeats the password in its DATA answer.
    monkeypatch.setattr("tests.servers.USERNAME", USERNAME)
    monkeypatch.setattr("tests.servers.PASSWORD", PASSWORD)
    handler = RecordingHandler(data_answer=f"554 5.7.1 rejected, you sent pass={form}")
    with smtp_server(handler, auth=True) as server:
        settings = delivery_settings(
            smtp_port=server.port,
            smtp_requires_auth=True,
            smtp_username=USERNAME,
            smtp_password=PASSWORD,
        )
        with engine_for(settings) as engine:
            result = engine.send(compose(request(), settings).wire)
    assert result.answer.startswith("Message refused: 554 5.7.1 rejected, you sent pass=")
    assert_hidden(result.answer, PASSWORD)


def echoing_smtp_server():
    """Offers AUTH PLAIN and answers it with what it was sent."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        reader = conn.makefile("rb")
        conn.sendall(b"220 echo ESMTP\r\n")
        for line in reader:
            command = line.decode().strip()
            if command.upper().startswith(("EHLO", "HELO")):
                conn.sendall(b"250-echo\r\n250 AUTH PLAIN\r\n")
            elif command.upper().startswith("AUTH"):
                conn.sendall(f"535 5.7.8 no such credentials: {command}\r\n".encode())
            elif command.upper() == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    return _raw_server(serve)


def test_an_auth_answer_repeating_the_credentials_is_redacted_in_delivery_and_the_test():
    with echoing_smtp_server() as port:
        settings = delivery_settings(
            smtp_port=port,
            smtp_requires_auth=True,
            smtp_username=USERNAME,
            smtp_password=PASSWORD,
        )
        with engine_for(settings) as engine:
            result = engine.send(compose(request(), settings).wire)
        steps = engine_for(settings).check_connection()
    assert "535 5.7.8 no such credentials: AUTH PLAIN" in result.answer
    assert_hidden(result.answer, PASSWORD)
    shown = " ".join(f"{step.answer} {step.hint}" for step in steps)
    assert "535 5.7.8" in shown
    assert_hidden(shown, PASSWORD)


@pytest.mark.parametrize("form", forms_of(API_KEY))
def test_a_sendgrid_answer_repeating_the_key_is_redacted(form):
    with sendgrid_stand_in() as stand_in:
        stand_in.status, stand_in.reason = 400, f"Bad key {form}"
        stand_in.body = json.dumps({"errors": [{"message": f"key {API_KEY} is bad"}]})
        settings = delivery_settings(
            engine="sendgrid", sendgrid_api_key=API_KEY, sendgrid_endpoint=stand_in.endpoint
        )
        with engine_for(settings) as engine:
            result = engine.send(compose(request(), settings).wire)
        steps = engine_for(settings).check_connection()
    assert result.answer.startswith("SendGrid answered 400 Bad key")
    assert_hidden(result.answer, API_KEY)
    assert_hidden(" ".join(step.answer for step in steps), API_KEY)
