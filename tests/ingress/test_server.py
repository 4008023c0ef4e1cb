"""The SMTP ingress against real clients: smtplib and Django's own SMTP backend, a worker
delivering to an aiosmtpd sink, and every refusal storing nothing."""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from emailconfig.ingress import server as ingress_server
from emailconfig.ingress.server import Ingress, IngressError
from emailconfig.models import AppliedConfiguration, Message
from emailconfig.services import configurations, tokens
from emailconfig.worker import Worker
from tests import factories
from tests.ingress.conftest import USERNAME, client_context, port, running, signed_in, stored
from tests.servers import free_port

PDF = b"%PDF-1.4 invoice \x00\xff" * 50


def invoice(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Billing <billing@app.example>"
    message["To"] = "Ada Lovelace <ada@example.com>"
    message["Subject"] = "Rechnung für März ✓"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Grüße, Ada!\nYour invoice is attached.\n")
    message.add_alternative("<p>Grüße, <b>Ada</b>!</p>", subtype="html")
    message.add_attachment(
        PDF, maintype="application", subtype="pdf", filename="Übersicht März.pdf"
    )
    return message


def submit(client: smtplib.SMTP, message: EmailMessage, recipients: list[str]) -> tuple[int, str]:
    """MAIL, RCPT and DATA by hand, to see DATA's own reply."""
    client.mail("billing@app.example")
    for recipient in recipients:
        assert client.rcpt(recipient)[0] == 250
    code, answer = client.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    return code, answer.decode()


def test_a_message_is_queued_with_its_id_and_delivered_intact(ingress, world, certificates, sink):
    message_id = make_msgid(domain="app.example")
    with signed_in(ingress, certificates, world["token"]) as client:
        code, answer = submit(client, invoice(Message_ID=message_id), ["ada@example.com"])

    assert code == 250, answer
    stored_message = Message.objects.get()
    assert answer == f"2.0.0 Queued as {stored_message.pk} {message_id}"
    assert stored_message.message_id == message_id  # the app's own, kept
    assert stored_message.recipients["to"] == [{"email": "ada@example.com", "name": "Ada Lovelace"}]

    assert Worker().run_once() == 1
    [received] = sink.handler.received
    delivered = received.message
    assert received.rcpt_tos == ["ada@example.com"]
    assert delivered["Message-ID"] == message_id
    assert delivered["Subject"] == "Rechnung für März ✓"
    assert delivered["From"].addresses[0].addr_spec == "noreply@example.com"  # the configuration's
    assert delivered["To"].addresses[0].display_name == "Ada Lovelace"
    assert (
        delivered.get_body(("plain",)).get_content() == "Grüße, Ada!\nYour invoice is attached.\n"
    )
    assert delivered.get_body(("html",)).get_content().strip() == "<p>Grüße, <b>Ada</b>!</p>"
    [attachment] = delivered.iter_attachments()
    assert attachment.get_filename() == "Übersicht März.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_django_s_smtp_backend_sends_with_host_port_username_and_token_only(
    ingress, world, certificates, sink, settings, tmp_path, monkeypatch
):
    """An app changes its mail settings and nothing else; the test list applies."""
    config = world["config"]
    config.test_recipients.create(email="qa@example.com", name="QA")
    version = factories.edit(config, recipients_mode="test_list", subject_prefix="[QA]")
    configurations.apply_version(world["app"], world["stage"], version, by=None)
    ca = tmp_path / "ca.pem"
    ca.write_text(certificates.ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the test CA, as a real one would be trusted
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": "localhost",
                "port": port(ingress),
                "username": USERNAME,
                "password": world["token"],
                "use_tls": True,
            },
        }
    }
    email = mail.EmailMessage(
        "Ihre Bestellung", "Danke!", "shop@app.example", ["kunde@example.com"]
    )
    email.attach("bestellung.csv", b"id;summe\n1;9,99\n", "text/csv")
    assert email.send() == 1

    message = Message.objects.get()  # in the outbox
    assert message.final_recipients == ["qa@example.com"]
    assert message.original_recipients == "To: kunde@example.com"

    assert Worker().run_once() == 1  # delivered through the applied configuration
    [received] = sink.handler.received
    assert received.rcpt_tos == ["qa@example.com"]
    assert received.message["Subject"] == "[QA] Ihre Bestellung"
    [attachment] = received.message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type()) == (
        "bestellung.csv",
        "text/csv",
    )
    assert attachment.get_payload(decode=True) == b"id;summe\n1;9,99\n"


def test_bcc_comes_from_the_envelope_and_its_header_is_dropped(ingress, world, certificates, sink):
    message = invoice(Cc="Grace <grace@example.com>", Bcc="hidden@example.com")
    with signed_in(ingress, certificates, world["token"]) as client:
        code, _ = submit(
            client, message, ["ada@example.com", "grace@example.com", "hidden@example.com"]
        )
    assert code == 250
    stored_message = Message.objects.get()
    assert stored_message.recipients["cc"] == [{"email": "grace@example.com", "name": "Grace"}]
    assert stored_message.recipients["bcc"] == [{"email": "hidden@example.com", "name": ""}]

    Worker().run_once()
    [received] = sink.handler.received
    assert sorted(received.rcpt_tos) == [
        "ada@example.com",
        "grace@example.com",
        "hidden@example.com",
    ]
    assert "hidden@example.com" not in received.content.decode()
    assert received.message["Bcc"] is None


@pytest.mark.parametrize("token", ["smk_wrong", ""])
def test_a_wrong_token_is_refused_and_nothing_is_stored(ingress, world, certificates, token):
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        signed_in(ingress, certificates, token or world["token"], "billing/production")
    assert refused.value.smtp_code == 535
    assert b"app-slug/stage-slug" in refused.value.smtp_error
    assert stored() == 0


def test_a_revoked_token_is_refused_even_on_a_connection_signed_in_before(
    ingress, world, certificates
):
    with signed_in(ingress, certificates, world["token"]) as client:
        world["credential"].revoked_at = timezone.now()
        world["credential"].save()
        code, answer = submit(client, invoice(), ["ada@example.com"])
    assert (code, answer[:5]) == (554, "5.7.8")
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        signed_in(ingress, certificates, world["token"])
    assert refused.value.smtp_code == 535
    assert stored() == 0


def test_auth_before_starttls_is_refused_off_loopback(world, certificates):
    for ingress in running(certificates, auth_without_tls=False):
        with smtplib.SMTP("127.0.0.1", port(ingress), timeout=10) as client:
            client.ehlo()
            assert not client.has_extn("auth")
            code, answer = client.docmd("AUTH", "PLAIN AGJpbGxpbmcvcWEAc2Vj")
            assert (code, answer) == (
                538,
                b"5.7.11 Encryption required for requested authentication mechanism",
            )
            assert client.docmd("MAIL", "FROM:<a@example.com>")[0] == 530
            client.starttls(context=client_context(certificates))
            client.login(USERNAME, world["token"])
    assert stored() == 0


def test_without_a_certificate_it_listens_on_loopback_only(world):
    with pytest.raises(IngressError, match=r"loopback only, not on 0\.0\.0\.0"):
        Ingress("0.0.0.0", free_port())  # noqa: S104  (refused)
    ingress = Ingress("127.0.0.1", free_port())
    ingress.start()
    try:
        with smtplib.SMTP("127.0.0.1", port(ingress), timeout=10) as client:
            client.login(USERNAME, world["token"])  # loopback: AUTH without TLS
            assert submit(client, invoice(), ["ada@example.com"])[0] == 250
    finally:
        ingress.stop()
    assert stored() == 1


def test_implicit_tls_on_the_second_port(world, certificates):
    for ingress in running(certificates, tls_port=free_port()):
        with smtplib.SMTP_SSL(
            "localhost", port(ingress, 1), context=client_context(certificates), timeout=10
        ) as client:
            client.login(USERNAME, world["token"])
            assert submit(client, invoice(), ["ada@example.com"])[0] == 250
    assert stored() == 1


def test_an_oversized_message_gets_552_and_nothing_is_stored(world, certificates, settings):
    settings.STAGEMAIL_MAX_MESSAGE_BYTES = 500  # the SMTP limit is then 500 * 4/3 + 1 MB
    for ingress in running(certificates):
        with signed_in(ingress, certificates, world["token"]) as client:
            code, answer = submit(client, invoice(), ["ada@example.com"])  # 950 bytes of PDF
            assert (code, answer) == (552, "5.3.4 The message is larger than 500 bytes.")
            huge = invoice()
            huge.add_attachment(
                b"x" * 1_200_000, maintype="application", subtype="zip", filename="big.zip"
            )
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(huge)  # SIZE announced: refused before DATA
            assert refused.value.smtp_code == 552
    assert stored() == 0


def test_a_header_the_api_does_not_allow_is_refused_with_its_name(ingress, world, certificates):
    with signed_in(ingress, certificates, world["token"]) as client:
        code, answer = submit(client, invoice(Importance="high"), ["ada@example.com"])
        assert code == 554
        assert answer.startswith('5.6.0 headers: "Importance" is not allowed.')
        code, answer = submit(client, invoice(Message_ID="not-an-id"), ["ada@example.com"])
        assert (code, answer[:20]) == (554, "5.6.0 message_id: a ")
        code, answer = submit(client, invoice(X_Note="kept"), ["ada@example.com"])
        assert code == 250
    assert stored() == 1
    assert b"X-Note: kept" in bytes(Message.objects.get().raw)


def test_over_the_rate_limit_is_a_temporary_refusal(ingress, world, certificates):
    AppliedConfiguration.objects.update(rate_limit_per_minute=1)
    with signed_in(ingress, certificates, world["token"]) as client:
        assert submit(client, invoice(), ["ada@example.com"])[0] == 250
        code, answer = submit(client, invoice(), ["ada@example.com"])
    assert (code, answer[:5]) == (451, "4.7.1")
    assert stored() == 1


def test_failed_logins_from_one_address_are_throttled(world, certificates, settings):
    settings.STAGEMAIL_SIGNIN_FAILURE_LIMIT = 2
    for ingress in running(certificates):
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            signed_in(ingress, certificates, "smk_guess")  # smtplib tries PLAIN, then LOGIN
        assert refused.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            signed_in(ingress, certificates, world["token"])  # even the right token
        assert refused.value.smtp_code == 454
        assert b"Too many failed logins" in refused.value.smtp_error


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="an in-memory SQLite database cannot go away"
)
def test_the_database_being_away_is_451_and_the_app_sends_again_later(ingress, world, certificates):
    saved = dict(connection.settings_dict)
    with signed_in(ingress, certificates, world["token"]) as client:
        with connection.cursor() as cursor:  # the ingress's connections drop...
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        connection.settings_dict["PORT"] = str(free_port())  # ...and cannot come back
        try:
            code, answer = submit(client, invoice(), ["ada@example.com"])
        finally:
            connection.settings_dict.update(saved)
        assert (code, answer[:5]) == (451, "4.3.0")
        assert submit(client, invoice(), ["ada@example.com"])[0] == 250  # back again
    assert stored() == 1


def test_a_rotated_token_works_for_its_grace_and_not_after(ingress, world, certificates):
    app, stage = world["app"], world["stage"]
    _, new_token = tokens.rotate(app, stage, grace=timedelta(hours=1), by=None)
    signed_in(ingress, certificates, world["token"]).quit()  # the old one, within its grace
    tokens.rotate(app, stage, grace=timedelta(0), by=None)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        signed_in(ingress, certificates, new_token)  # expired by the second rotation


def test_stopping_answers_a_message_being_accepted_first(world, certificates, monkeypatch):
    def slowly(*args):
        time.sleep(0.5)
        return accepted(*args)

    accepted = ingress_server._accepted
    monkeypatch.setattr(ingress_server, "_accepted", slowly)
    cert, key = certificates.localhost
    ingress = Ingress("127.0.0.1", free_port(), certificate=str(cert), key=str(key))
    ingress.start()
    answers = []
    with signed_in(ingress, certificates, world["token"]) as client:
        sending = threading.Thread(
            target=lambda: answers.append(submit(client, invoice(), ["ada@example.com"]))
        )
        sending.start()
        while not ingress.handler.accepting:
            time.sleep(0.01)
        ingress.stop()
        sending.join()
    assert answers[0][0] == 250
    assert stored() == 1


def test_without_an_applied_configuration_nothing_is_accepted(ingress, world, certificates):
    AppliedConfiguration.objects.all().delete()
    with signed_in(ingress, certificates, world["token"]) as client:
        code, answer = submit(client, invoice(), ["ada@example.com"])
    assert (code, answer[:5]) == (554, "5.3.5")
    assert "No email configuration is applied to Billing on QA" in answer
    assert stored() == 0


def test_an_address_the_composer_refuses_is_550_with_the_reason(ingress, world, certificates):
    long_mailbox = "a" * 65 + "@example.com"  # over RFC 5321's 64 characters
    with signed_in(ingress, certificates, world["token"]) as client:
        code, answer = submit(client, invoice(), [long_mailbox])
    assert (code, answer[:10]) == (550, "5.1.3 bcc:")
    assert stored() == 0


def test_failed_logins_and_a_lockout_are_in_the_audit_trail(world, certificates, settings):
    from emailconfig.models import AuditAction, AuditEntry

    settings.STAGEMAIL_SIGNIN_FAILURE_LIMIT = 2
    for ingress in running(certificates):
        with pytest.raises(smtplib.SMTPAuthenticationError):
            signed_in(ingress, certificates, "smk_guess")  # PLAIN, then LOGIN: two failures
    failures = AuditEntry.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert failures.count() == 2
    entry = failures.first()
    assert (entry.target, entry.address, entry.actor) == ("billing/qa", "127.0.0.1", "")
    assert entry.details == {"via": "SMTP submission"}
    assert (
        AuditEntry.objects.filter(
            action=AuditAction.SIGN_IN_LOCKED_OUT, target="billing/qa"
        ).count()
        == 1
    )
    assert "smk_guess" not in str(list(AuditEntry.objects.values()))


def test_it_starts_and_stops_from_a_thread_whose_own_loop_is_running(world, certificates):
    """As when a browser test (Playwright's sync API) ran before it in the same process."""

    async def from_inside_a_running_loop() -> int:
        for ingress in running(certificates):
            with signed_in(ingress, certificates, world["token"]) as client:
                return submit(client, invoice(), ["ada@example.com"])[0]
        return 0

    answers: list[int] = []
    # A thread of its own: this one may be running Playwright's loop already.
    caller = threading.Thread(
        target=lambda: answers.append(asyncio.run(from_inside_a_running_loop()))
    )
    caller.start()
    caller.join(timeout=30)
    assert answers == [250]
    assert stored() == 1
