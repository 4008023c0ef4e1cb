"""The SMTP engine against real aiosmtpd servers on loopback."""

import time

import pytest

from emailconfig.composer import compose
from emailconfig.delivery import Address
from emailconfig.engines import engine_for
from emailconfig.engines.smtp.hints import hint_for
from emailconfig.models import Outcome
from tests.factories import delivery_settings, request
from tests.servers import (
    PASSWORD,
    USERNAME,
    RecordingHandler,
    scripted_server,
    silent_server,
    smtp_server,
    trickling_server,
)


def send(settings, *requests):
    with engine_for(settings) as engine:
        return [engine.send(compose(r, settings).wire) for r in requests]


def settings_for(server, **overrides):
    return delivery_settings(smtp_port=server.port, **overrides)


def secured(server, certificates, **overrides):
    """STARTTLS to localhost with the test CA trusted, and authentication."""
    values = {
        "smtp_host": "localhost",
        "smtp_security": "starttls",
        "smtp_requires_auth": True,
        "smtp_username": USERNAME,
        "smtp_password": PASSWORD,
        "trusted_ca": certificates.ca_pem,
    }
    return settings_for(server, **{**values, **overrides})


def test_it_delivers_a_message_the_server_can_parse():
    with smtp_server() as server:
        [result] = send(settings_for(server), request())

    assert result.outcome == Outcome.DELIVERED
    assert result.answer == "250 2.0.0 Ok: queued as TEST123"
    [received] = server.handler.received
    assert received.mail_from == "noreply@example.com"
    assert received.rcpt_tos == ["ada@example.com"]
    message = received.message
    assert message["From"] == "Example Team <noreply@example.com>"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Subject"] == "Your invoice"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@example.com>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content() == "Hello Ada,\nyour invoice is ready.\n"
    assert html.get_content_type() == "text/html"
    assert "<b>Ada</b>" in html.get_content()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_it_upgrades_with_starttls_verifies_and_authenticates(certificates, mechanism):
    tls = certificates.server_context(certificates.localhost)
    handler = RecordingHandler()
    excluded = [m for m in ("PLAIN", "LOGIN") if m != mechanism]
    with smtp_server(handler, tls=tls, auth=True) as server:
        server.controller.SMTP_kwargs["auth_exclude_mechanism"] = excluded
        settings = secured(server, certificates)
        [result] = send(settings, request())
    assert result.delivered, result.answer
    assert len(handler.received) == 1


def test_it_delivers_over_implicit_tls(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(implicit_tls=tls) as server:
        settings = settings_for(server, smtp_security="tls", trusted_ca=certificates.ca_pem)
        [result] = send(settings, request())
    assert result.delivered, result.answer
    assert len(server.handler.received) == 1


def test_an_untrusted_certificate_fails_with_a_clear_tls_error(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls) as server:
        [result] = send(settings_for(server, smtp_security="starttls"), request())
    assert result.outcome == Outcome.TEMPORARY
    assert "TLS certificate not accepted" in result.answer
    assert "unable to get local issuer certificate" in result.answer
    assert server.handler.received == []


def test_a_certificate_for_another_host_fails_even_when_its_ca_is_trusted(certificates):
    tls = certificates.server_context(certificates.other_host)
    with smtp_server(tls=tls) as server:
        settings = settings_for(server, smtp_security="starttls", trusted_ca=certificates.ca_pem)
        [result] = send(settings, request())
    assert result.outcome == Outcome.TEMPORARY
    assert "TLS certificate not accepted" in result.answer
    assert "mismatch" in result.answer
    assert server.handler.received == []


def test_a_server_that_stops_offering_starttls_is_a_failure_not_clear_text():
    with smtp_server(auth=True) as server:
        settings = settings_for(
            server,
            smtp_security="starttls",
            smtp_requires_auth=True,
            smtp_username=USERNAME,
            smtp_password=PASSWORD,
        )
        [result] = send(settings, request())
    assert result.outcome == Outcome.TEMPORARY
    assert "does not offer STARTTLS" in result.answer
    assert server.handler.received == []


def test_credentials_are_never_sent_in_clear_text_to_another_host():
    settings = delivery_settings(
        smtp_host="mail.example.com",
        smtp_requires_auth=True,
        smtp_username=USERNAME,
        smtp_password=PASSWORD,
    )
    [result] = send(settings, request())
    assert result.outcome == Outcome.PERMANENT
    assert "Refusing to send credentials over an unencrypted connection" in result.answer


def test_rejected_credentials_fail_permanently_with_the_servers_words(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=False) as server:
        settings = secured(server, certificates)
        [result] = send(settings, request())
    assert result.outcome == Outcome.PERMANENT
    assert result.answer.startswith("Authentication rejected: 535")
    assert PASSWORD not in result.answer


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("451 4.3.0 Try again later", Outcome.TEMPORARY),
        ("554 5.7.1 Message rejected as spam", Outcome.PERMANENT),
    ],
)
def test_a_refused_message_keeps_the_servers_answer(answer, outcome):
    with smtp_server(RecordingHandler(data_answer=answer)) as server:
        [result] = send(settings_for(server), request())
    assert result.outcome == outcome
    assert result.answer == f"Message refused: {answer}"


def test_a_refused_sender_is_reported_with_its_code():
    handler = RecordingHandler(refuse_sender="550 5.7.1 Relaying denied for this sender")
    with smtp_server(handler) as server:
        [result] = send(settings_for(server), request())
    assert result.outcome == Outcome.PERMANENT
    assert result.answer == "Sender refused: 550 5.7.1 Relaying denied for this sender"


def test_recipients_refused_one_by_one_are_reported_per_recipient():
    handler = RecordingHandler(refuse_recipients={"bob@example.com": "550 5.1.1 No such user"})
    to = (Address("ada@example.com"), Address("bob@example.com"))
    with smtp_server(handler) as server:
        [result] = send(settings_for(server), request(to=to))
    assert result.delivered
    assert result.refused == {"bob@example.com": "550 5.1.1 No such user"}
    assert server.handler.received[0].rcpt_tos == ["ada@example.com"]


def test_every_recipient_refused_fails_with_each_answer():
    handler = RecordingHandler(refuse_recipients={"ada@example.com": "450 4.2.1 Mailbox busy"})
    with smtp_server(handler) as server:
        [result] = send(settings_for(server), request())
    assert result.outcome == Outcome.TEMPORARY
    assert "ada@example.com: 450 4.2.1 Mailbox busy" in result.answer


def test_a_hung_server_hits_the_send_timeout():
    with smtp_server(RecordingHandler(hang_seconds=5)) as server:
        started = time.monotonic()
        [result] = send(settings_for(server, send_timeout=1.0), request())
    assert time.monotonic() - started < 4
    assert result.outcome == Outcome.TEMPORARY
    assert result.answer.startswith("Timed out")


@pytest.mark.parametrize("server", [silent_server, trickling_server], ids=["silent", "trickling"])
def test_a_server_that_never_finishes_its_greeting_hits_the_deadline(server):
    with server() as port:
        started = time.monotonic()
        [result] = send(delivery_settings(smtp_port=port, connect_timeout=1.0), request())
    assert time.monotonic() - started < 3
    assert result.outcome == Outcome.TEMPORARY
    assert result.answer.startswith("Timed out")


def test_a_closed_port_is_a_temporary_failure():
    with smtp_server() as server:
        port = server.port
    [result] = send(delivery_settings(smtp_port=port), request())
    assert result.outcome == Outcome.TEMPORARY
    assert "Connection refused" in result.answer


def test_a_batch_reuses_one_connection():
    peers = set()

    class PeerHandler(RecordingHandler):
        async def handle_DATA(self, server, session, envelope):
            peers.add(session.peer)
            return await super().handle_DATA(server, session, envelope)

    with smtp_server(PeerHandler()) as server:
        results = send(settings_for(server), request(), request(), request())
    assert [r.delivered for r in results] == [True, True, True]
    assert len(server.handler.received) == 3
    assert len(peers) == 1


def test_a_batch_reconnects_after_a_failure():
    handler = RecordingHandler(data_answer="451 4.3.0 Later")
    with smtp_server(handler) as server:
        settings = settings_for(server)
        with engine_for(settings) as engine:
            first = engine.send(compose(request(), settings).wire)
            handler.data_answer = "250 OK"
            second = engine.send(compose(request(), settings).wire)
    assert first.outcome == Outcome.TEMPORARY
    assert second.delivered


# Connection test -------------------------------------------------------------


def test_the_connection_test_walks_every_step_and_sends_nothing(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=True) as server:
        settings = secured(server, certificates)
        steps = engine_for(settings).check_connection()
    assert [(s.name, s.ok) for s in steps] == [
        ("Connect", True),
        ("Say hello (EHLO)", True),
        ("Encrypt (TLS)", True),
        ("Authenticate", True),
        ("Sender accepted (MAIL FROM, then reset)", True),
    ]
    assert steps[0].answer == "Connected"
    assert steps[1].answer.startswith("220 ")  # the greeting, once EHLO was answered
    assert " · 250 " in steps[1].answer
    assert "TLSv1.3" in steps[2].answer
    assert steps[3].answer.startswith("235")
    assert server.handler.received == []


def test_the_connection_test_explains_bad_credentials(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=False) as server:
        settings = secured(server, certificates)
        steps = engine_for(settings).check_connection()
    assert steps[-1].name == "Authenticate" and not steps[-1].ok
    assert "rejected the username or password" in steps[-1].hint


def test_the_connection_test_explains_a_closed_port():
    with smtp_server() as server:
        port = server.port
    [step] = engine_for(delivery_settings(smtp_port=port)).check_connection()
    assert (step.name, step.ok) == ("Connect", False)
    assert "Nothing accepts connections" in step.hint


def test_the_connection_test_explains_implicit_tls_on_a_starttls_port():
    with smtp_server() as server:
        steps = engine_for(settings_for(server, smtp_security="tls")).check_connection()
    assert not steps[0].ok
    assert "does not start with TLS" in steps[0].hint


def test_the_connection_test_suggests_implicit_tls_when_the_server_waits_for_it(certificates):
    # An implicit-TLS port accepts the connection and says nothing until TLS starts.
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(implicit_tls=tls) as server:
        settings = settings_for(server, smtp_security="starttls", connect_timeout=1.0)
        [step] = engine_for(settings).check_connection()
    assert (step.name, step.ok) == ("Connect", False)
    assert step.answer == "Timed out: connected, but the server sent no greeting"
    assert "Implicit TLS" in step.hint and "465" in step.hint
    assert "firewall" not in step.hint


def test_the_connection_test_tells_a_silent_port_from_an_unreachable_one():
    with silent_server() as port:
        [step] = engine_for(
            delivery_settings(smtp_port=port, connect_timeout=1.0)
        ).check_connection()
    assert step.answer == "Timed out: connected, but the server sent no greeting"
    assert "Implicit TLS" in step.hint
    unreachable = "Timed out: no connection to 192.0.2.1:465 in time"
    for security in ("none", "starttls"):
        settings = delivery_settings(smtp_host="192.0.2.1", smtp_port=465, smtp_security=security)
        hint = hint_for("Connect", unreachable, settings)
        assert "firewall" in hint and "Port 465 expects implicit TLS" in hint
    settings = delivery_settings(smtp_host="192.0.2.1", smtp_port=587, smtp_security="starttls")
    assert "TLS" not in hint_for("Connect", unreachable.replace("465", "587"), settings)


def test_the_connection_test_explains_a_refused_sender():
    handler = RecordingHandler(refuse_sender="553 5.7.1 Sender address rejected")
    with smtp_server(handler) as server:
        steps = engine_for(settings_for(server)).check_connection()
    assert not steps[-1].ok
    assert "refuses to send as noreply@example.com" in steps[-1].hint


# With PIPELINING the envelope goes in one write; every outcome must stay the same.


@pytest.mark.parametrize(
    ("handler_options", "outcome", "answer"),
    [
        ({}, Outcome.DELIVERED, "250 2.0.0 Ok: queued as TEST123"),
        ({"data_answer": "451 4.3.0 Later"}, Outcome.TEMPORARY, "Message refused: 451 4.3.0 Later"),
        (
            {"refuse_sender": "550 5.7.1 Not you"},
            Outcome.PERMANENT,
            "Sender refused: 550 5.7.1 Not you",
        ),
        (
            {"refuse_recipients": {"ada@example.com": "550 5.1.1 Unknown"}},
            Outcome.PERMANENT,
            "Every recipient was refused: ada@example.com: 550 5.1.1 Unknown",
        ),
    ],
)
def test_a_pipelining_server_gets_the_same_outcomes(handler_options, outcome, answer):
    handler = RecordingHandler(pipelining=True, **handler_options)
    with smtp_server(handler) as server:
        settings = settings_for(server)
        with engine_for(settings) as engine:
            first = engine.send(compose(request(), settings).wire)
            handler.__dict__.update(refuse_sender="", refuse_recipients={}, data_answer="250 OK")
            second = engine.send(
                compose(request(), settings).wire
            )  # the connection is still usable
    assert (first.outcome, first.answer) == (outcome, answer)
    assert second.delivered


def test_pipelining_reports_partial_refusals_per_recipient():
    handler = RecordingHandler(pipelining=True, refuse_recipients={"bob@example.com": "550 No"})
    to = (Address("ada@example.com"), Address("bob@example.com"))
    with smtp_server(handler) as server:
        [result] = send(settings_for(server), request(to=to))
    assert result.delivered
    assert result.refused == {"bob@example.com": "550 No"}
    assert handler.received[0].rcpt_tos == ["ada@example.com"]


def test_a_leading_dot_survives_the_transfer():
    with smtp_server(RecordingHandler(pipelining=True)) as server:
        send(settings_for(server), request(text=".hidden line\n..two dots\n.", html=""))
    assert server.handler.received[0].message.get_content() == ".hidden line\n..two dots\n.\n"


def test_an_unexpected_error_is_a_result_that_never_shows_the_password(certificates):
    tls = certificates.server_context(certificates.localhost)
    with smtp_server(tls=tls, auth=True) as server:
        settings = secured(server, certificates, smtp_password="pässwort-secret")
        [result] = send(settings, request())
    assert result.outcome == Outcome.TEMPORARY
    assert "pässwort" not in result.answer
    assert "UnicodeEncodeError" in result.answer


def test_a_server_that_cannot_be_reached_is_marked_so_the_worker_skips_it():
    with smtp_server() as server:
        port = server.port
    [result] = send(delivery_settings(smtp_port=port), request())
    assert result.connection_failed


# What a server that is not an SMTP server says is never shown ---------------------

SSH_BANNER = b"SSH-2.0-OpenSSH_9.6p1 internal-bastion-7\r\n"


@pytest.mark.parametrize(
    "answers",
    [
        [SSH_BANNER],  # not an SMTP reply at all
        [b"554 internal-db-3 service not for you\r\n"],  # a refusal in SMTP's shape
        # Greets like SMTP, then answers EHLO and HELO like something else.
        [b"220 ftp.internal ProFTPD ready\r\n", b"500 unknown ehlo ProFTPD\r\n", b"502 x\r\n"],
    ],
)
def test_a_non_smtp_servers_words_are_never_shown(answers):
    with scripted_server(answers) as port:
        settings = delivery_settings(smtp_port=port, connect_timeout=2.0)
        steps = engine_for(settings).check_connection()
        [result] = send(settings, request())
    shown = " ".join(f"{s.answer} {s.hint}" for s in steps) + result.answer
    for secret in ("OpenSSH", "bastion", "internal", "ProFTPD", "not for you"):
        assert secret not in shown
    assert not steps[-1].ok


def test_a_non_smtp_server_is_named_as_such():
    with scripted_server([SSH_BANNER]) as port:
        [step] = engine_for(delivery_settings(smtp_port=port)).check_connection()
    assert (step.name, step.ok) == ("Connect", False)
    assert step.answer == "Not an SMTP server: its answer is not an SMTP reply"
    assert step.hint == (
        f"Something answers on 127.0.0.1:{port}, but not an SMTP server; what it said is not "
        "shown. Check the host and port."
    )


def test_a_server_turning_the_connection_away_is_reported_by_its_code():
    with scripted_server([b"554 5.7.1 no mail from 203.0.113.9 here\r\n"]) as port:
        [step] = engine_for(delivery_settings(smtp_port=port)).check_connection()
    assert step.answer == "The server turned the connection away (SMTP code 554)"
    assert "may not accept mail from this machine" in step.hint
