"""The delivery worker in-process, against a real aiosmtpd: retries, failures, leases, fencing."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from emailconfig.composer import AttachmentData
from emailconfig.delivery import Address, DeliverySettings
from emailconfig.engines.base import DeliveryResult
from emailconfig.models import DailyDeliveryCount, DeliveryAttempt, Message, MessageStatus
from emailconfig.services import outbox
from emailconfig.worker import Done, Worker, claim, retry_delay
from tests import factories
from tests.servers import RecordingHandler, free_port, sendgrid_stand_in, smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


def credential_for(port, **config):
    configuration = factories.configuration("qa", name="QA mail", smtp_port=port, **config)
    return factories.api_credential(configuration)


def submit(credential, n=1, **overrides):
    values = {
        "to": (Address("ada@example.com", "Ada"),),
        "subject": "Invoice",
        "text": "Your invoice.",
        "html": "<p>Your invoice.</p>",
    }
    values.update(overrides)
    return [outbox.accept(credential, outbox.Submission(**values))[0] for _ in range(n)]


def refreshed(message):
    message.refresh_from_db()
    return message


def test_a_message_is_delivered_and_its_attempt_recorded(sink):
    [message] = submit(credential_for(sink.port))
    assert Worker().run_once() == 1

    message = refreshed(message)
    assert message.status == MessageStatus.SENT and message.sent_at
    [attempt] = message.attempts.all()
    assert (attempt.number, attempt.outcome) == (1, "delivered")
    assert attempt.answer == "250 2.0.0 Ok: queued as TEST123"
    [received] = sink.handler.received
    assert received.message["Message-ID"] == message.message_id
    assert received.rcpt_tos == ["ada@example.com"]


def test_a_4xx_is_retried_with_the_same_message_id_and_then_delivered(sink, settings):
    settings.STAGEMAIL_RETRY_BASE = 0.05
    sink.handler.data_answer = "451 4.3.0 Try again later"
    [message] = submit(credential_for(sink.port))

    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.DEFERRED
    assert message.next_attempt_at > message.created_at
    assert message.last_error == "Message refused: 451 4.3.0 Try again later"

    sink.handler.data_answer = "250 OK"
    time.sleep(0.06)
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.SENT
    assert [a.outcome for a in message.attempts.all()] == ["temporary", "delivered"]
    assert sink.handler.received[0].message["Message-ID"] == message.message_id


def test_a_5xx_fails_at_once_with_the_answer_kept(sink):
    sink.handler.data_answer = "554 5.7.1 Rejected for policy reasons"
    [message] = submit(credential_for(sink.port))
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.FAILED
    assert message.last_error == "Message refused: 554 5.7.1 Rejected for policy reasons"
    assert message.attempts.count() == 1


def test_a_temporary_failure_past_the_maximum_age_is_final(sink):
    sink.handler.data_answer = "451 4.3.0 Later"
    [message] = submit(credential_for(sink.port))
    Message.objects.filter(pk=message.pk).update(give_up_at=timezone.now())
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.FAILED
    assert message.last_error.startswith("Gave up after 1 attempts: Message refused: 451")


def test_recipients_refused_one_by_one_are_recorded(sink):
    sink.handler.refuse_recipients = {"bob@example.com": "550 5.1.1 No such user"}
    [message] = submit(
        credential_for(sink.port), to=(Address("ada@example.com"), Address("bob@example.com"))
    )
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.SENT
    assert message.refused == {"bob@example.com": "550 5.1.1 No such user"}
    assert message.attempts.get().refused == {"bob@example.com": "550 5.1.1 No such user"}


def test_a_batch_with_mixed_results_records_each_message_its_own(sink):
    sink.handler.refuse_recipients = {
        "bob@example.com": "550 5.1.1 No such user",
        "carol@example.com": "550 5.1.1 No such user",
        "dave@example.com": "451 4.2.1 Mailbox busy",
    }
    credential = credential_for(sink.port)
    ada, bob, carol, dave = (
        Address(f"{name}@example.com") for name in ("ada", "bob", "carol", "dave")
    )
    [plain, partly_refused, refused, busy, plain_again] = [
        submit(credential, to=to)[0] for to in ((ada,), (ada, bob), (carol,), (dave,), (ada,))
    ]

    Worker().run_once()

    for message in (plain, plain_again):
        assert refreshed(message).status == MessageStatus.SENT
        assert message.refused == {}
    partly_refused = refreshed(partly_refused)
    assert partly_refused.status == MessageStatus.SENT
    assert partly_refused.refused == {"bob@example.com": "550 5.1.1 No such user"}
    assert refreshed(refused).status == MessageStatus.FAILED
    assert "550 5.1.1" in refused.last_error
    busy = refreshed(busy)
    assert busy.status == MessageStatus.DEFERRED
    assert busy.next_attempt_at > busy.created_at
    assert DeliveryAttempt.objects.count() == 5
    assert Message.objects.filter(lease_until__isnull=False).count() == 0


def test_recipients_refused_for_now_are_tried_again_on_their_own(sink):
    sink.handler.refuse_recipients = {"dave@example.com": "452 4.2.2 Mailbox full"}
    [message] = submit(
        credential_for(sink.port), to=(Address("ada@example.com"), Address("dave@example.com"))
    )
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.DEFERRED
    assert message.remaining_recipients == ["dave@example.com"]
    assert message.refused == {"dave@example.com": "452 4.2.2 Mailbox full"}
    assert message.sent_at is not None

    sink.handler.refuse_recipients = {}
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.SENT
    assert (message.refused, message.remaining_recipients, message.last_error) == ({}, None, "")
    first, second = sink.handler.received
    assert (first.rcpt_tos, second.rcpt_tos) == (["ada@example.com"], ["dave@example.com"])
    assert first.content == second.content  # the same stored bytes, a narrower envelope
    assert second.message["To"] == "ada@example.com, dave@example.com"


def test_a_recipient_still_refused_at_the_maximum_age_is_given_up_alone(sink):
    sink.handler.refuse_recipients = {"dave@example.com": "452 4.2.2 Mailbox full"}
    [message] = submit(
        credential_for(sink.port), to=(Address("ada@example.com"), Address("dave@example.com"))
    )
    Worker().run_once()
    Message.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now(), give_up_at=timezone.now()
    )
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.SENT  # ada has it
    assert message.refused == {
        "dave@example.com": "Gave up after 2 attempts: Every recipient "
        "was refused: dave@example.com: 452 4.2.2 Mailbox full"
    }
    assert message.remaining_recipients is None
    assert [r.rcpt_tos for r in sink.handler.received] == [["ada@example.com"]]


def test_a_batch_for_one_configuration_uses_one_connection():
    peers = set()

    class PeerHandler(RecordingHandler):
        async def handle_DATA(self, server, session, envelope):
            peers.add(session.peer)
            return await super().handle_DATA(server, session, envelope)

    with smtp_server(PeerHandler()) as sink:
        submit(credential_for(sink.port), n=5)
        Worker().run_once()
    assert len(sink.handler.received) == 5
    assert len(peers) == 1


def test_a_batch_reads_its_configuration_version_and_settings_once(sink, monkeypatch):
    """Versions never change: one query for the batch's versions, and their settings are
    read when the engine is made, not for every message."""
    submit(credential_for(sink.port), n=5)
    read = []
    from_version = DeliverySettings.from_version
    monkeypatch.setattr(
        DeliverySettings,
        "from_version",
        lambda version: read.append(version) or from_version(version),
    )
    with CaptureQueriesContext(connection) as queries:
        [first, *others] = claim(10)
    versions = [q for q in queries if 'FROM "emailconfig_configurationversion"' in q["sql"]]
    assert len(versions) == 1
    assert all(c.message.version is first.message.version for c in others)
    worker = Worker()
    for claimed in [first, *others]:
        worker._deliver(claimed, {})
    assert len(read) == 1
    assert len(sink.handler.received) == 5


def test_an_attempt_is_recorded_as_it_was_made(sink):
    [message] = submit(credential_for(sink.port))
    [claimed] = claim(10)
    started_at = timezone.now().replace(microsecond=123456)
    refused = {"bob@example.com": "550 5.1.1 No such user"}
    result = DeliveryResult("delivered", "250 2.0.0 Ok", duration_ms=42, refused=refused)
    Worker(name="host:7")._flush([Done(claimed, result, started_at)], [])
    attempt = message.attempts.get()
    assert (attempt.number, attempt.started_at, attempt.duration_ms, attempt.engine) == (
        1,
        started_at,
        42,
        "smtp",
    )
    assert (attempt.outcome, attempt.answer, attempt.refused, attempt.worker) == (
        "delivered",
        "250 2.0.0 Ok",
        refused,
        "host:7",
    )


def test_an_unreachable_server_defers_the_batch_after_one_try(settings):
    [first, second] = submit(credential_for(free_port()), n=2)
    started = time.monotonic()
    Worker().run_once()
    assert time.monotonic() - started < 3
    for message in (refreshed(first), refreshed(second)):
        assert message.status == MessageStatus.DEFERRED
        assert "Connection refused" in message.last_error
    assert DeliveryAttempt.objects.count() == 2


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_write(sink):
    [message] = submit(credential_for(sink.port))
    [stale] = claim(10)
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    [fresh] = claim(10)  # another worker re-drives the abandoned message
    assert fresh.token == stale.token + 1

    old_holder = Worker(name="old")
    old_holder._flush([Done(stale, DeliveryResult("permanent", "late answer"), timezone.now())], [])
    assert refreshed(message).status == MessageStatus.SENDING  # the stale write was fenced off
    assert message.attempts.get(worker="old").answer == "late answer"  # the try is on record

    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    Worker().run_once()
    assert refreshed(message).status == MessageStatus.SENT


def test_a_lease_lost_mid_batch_leaves_that_message_to_its_new_holder(sink, monkeypatch):
    monkeypatch.setattr("emailconfig.worker.FLUSH_EVERY", 1)
    first, second, third = submit(credential_for(sink.port), n=3)
    worker = Worker()
    deliver = worker._deliver

    def deliver_while_another_worker_takes_the_third(claimed, broken):
        done = deliver(claimed, broken)
        if claimed.message.pk == first.pk:
            Message.objects.filter(pk=third.pk).update(lease_token=F("lease_token") + 1)
        return done

    monkeypatch.setattr(worker, "_deliver", deliver_while_another_worker_takes_the_third)
    worker.run_once()
    assert len(sink.handler.received) == 2
    assert refreshed(second).status == MessageStatus.SENT
    assert refreshed(third).status == MessageStatus.SENDING  # untouched: not sent, not renewed
    assert not third.attempts.exists()


def test_a_flush_renews_the_leases_of_the_rest_of_the_batch_once_half_gone(sink, settings):
    settings.STAGEMAIL_LEASE_SECONDS = 300
    submit(credential_for(sink.port), n=3)
    first, second, third = claim(10)
    claimed_until = refreshed(second.message).lease_until
    sent = DeliveryResult("delivered", "250 2.0.0 Ok")
    worker = Worker()

    worker._flush([Done(first, sent, timezone.now())], [second, third])
    assert refreshed(second.message).lease_until == claimed_until  # 300 s left: kept

    half_gone = timezone.now() + timedelta(seconds=149)
    Message.objects.filter(pk=second.message.pk).update(lease_until=half_gone)
    second.message.lease_until = half_gone
    worker._flush([Done(third, sent, timezone.now())], [second])
    renewed = Message.objects.get(pk=second.message.pk).lease_until
    assert renewed > timezone.now() + timedelta(seconds=299)
    assert second.message.lease_until == renewed  # known to the worker from now on


def test_writing_the_same_results_again_changes_nothing(sink):
    """A write is made again when the connection dropped around its commit: the commit
    may have landed. Attempts are not recorded twice, messages not counted twice."""
    messages = submit(credential_for(sink.port), n=2)
    worker = Worker()
    done = [worker._deliver(claimed, {}) for claimed in claim(10)]
    worker._flush(done, [])
    worker._flush(done, [], again=True)
    for message in messages:
        assert refreshed(message).status == MessageStatus.SENT
        assert message.attempts.count() == 1
    assert DailyDeliveryCount.objects.get().sent == 2


class PeerHandler(RecordingHandler):
    """Records which client connections carried the messages."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.peers = set()

    async def handle_DATA(self, server, session, envelope):
        self.peers.add(session.peer)
        return await super().handle_DATA(server, session, envelope)


UNSENDABLE_ENVELOPES = {
    "a recipient outside ASCII": (["j\u00fcrgen@example.com"], "j\u00fcrgen@example.com"),
    "a recipient with a line break": (
        ["ada@example.com>\r\nRCPT TO:<eve@example.com"],
        "ada@example.com>\\r\\nRCPT TO:<eve@example.com",
    ),
    "no recipient": ([], "no recipient"),
}


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "stepwise"])
@pytest.mark.parametrize(
    ("recipients", "named"), UNSENDABLE_ENVELOPES.values(), ids=UNSENDABLE_ENVELOPES.keys()
)
def test_a_message_smtp_cannot_carry_fails_at_once_and_alone(pipelining, recipients, named):
    with smtp_server(PeerHandler(pipelining=pipelining)) as sink:
        credential = credential_for(sink.port)
        [bad] = submit(credential)
        Message.objects.filter(pk=bad.pk).update(final_recipients=recipients)
        others = submit(credential, n=2)
        Worker().run_once()
    bad = refreshed(bad)
    assert bad.status == MessageStatus.FAILED
    assert named in bad.last_error
    assert bad.attempts.get().outcome == "permanent"
    assert all(refreshed(m).status == MessageStatus.SENT for m in others)
    assert [r.rcpt_tos for r in sink.handler.received] == [["ada@example.com"]] * 2
    assert len(sink.handler.peers) == 1  # the bad one did not cost the others their connection


def test_a_message_with_no_stored_bytes_fails_without_reaching_the_server(sink):
    [message] = submit(credential_for(sink.port))
    Message.objects.filter(pk=message.pk).update(raw=b"")
    Worker().run_once()
    message = refreshed(message)
    assert message.status == MessageStatus.FAILED
    assert message.last_error == "Nothing to send: the message has no stored bytes."
    assert sink.handler.received == []


def test_a_configuration_version_that_cannot_be_read_fails_its_message_alone(sink):
    credential = credential_for(sink.port)
    [bad, *others] = submit(credential, n=3)
    broken = factories.configuration("production", name="Broken mail", smtp_port=sink.port)
    version = broken.latest_version()
    type(version).objects.filter(pk=version.pk).update(test_recipients=[42])  # damaged data
    Message.objects.filter(pk=bad.pk).update(version=version)
    Worker().run_once()  # before: a TypeError ended the worker with the batch unwritten
    bad = refreshed(bad)
    assert bad.status == MessageStatus.FAILED
    assert "configuration version cannot be read (TypeError)" in bad.last_error
    assert all(refreshed(m).status == MessageStatus.SENT for m in others)
    assert len(sink.handler.received) == 2


def test_a_message_sendgrid_cannot_read_fails_at_once_and_alone():
    with sendgrid_stand_in() as stand_in:
        configuration = factories.configuration(
            "qa",
            name="SendGrid mail",
            engine="sendgrid",
            smtp_host="",
            sendgrid_api_key="SG.key",
            sendgrid_endpoint=stand_in.endpoint,
        )
        credential = factories.api_credential(configuration)
        [no_sender, unknown_charset] = submit(credential, n=2)
        Message.objects.filter(pk=no_sender.pk).update(
            raw=b"To: ada@example.com\r\nSubject: Invoice\r\n\r\nHello\r\n"
        )
        Message.objects.filter(pk=unknown_charset.pk).update(
            raw=b"From: noreply@example.com\r\nTo: ada@example.com\r\n"
            b"Subject: =?x-unheard-of?q?Invoice?=\r\n"
            b"Content-Type: text/plain; charset=x-unheard-of\r\n\r\nHello\r\n"
        )
        others = submit(credential, n=2)
        Worker().run_once()
    no_sender = refreshed(no_sender)
    assert no_sender.status == MessageStatus.FAILED
    assert no_sender.last_error == (
        "The stored message cannot be sent through SendGrid: it has no From address."
    )
    assert no_sender.attempts.get().outcome == "permanent"
    # A charset Python does not know is sent as it stands, not refused.
    assert refreshed(unknown_charset).status == MessageStatus.SENT
    assert all(refreshed(m).status == MessageStatus.SENT for m in others)
    assert len(stand_in.requests) == 3
    assert len(stand_in.connections) == 1


def test_cancel_stops_a_waiting_message_and_retry_queues_it_again(sink):
    [message] = submit(credential_for(sink.port))
    assert outbox.cancel(message, by=None)
    assert Worker().run_once() == 0
    assert refreshed(message).status == MessageStatus.CANCELLED

    assert outbox.retry(message, by=None)
    Worker().run_once()
    assert refreshed(message).status == MessageStatus.SENT
    assert not outbox.cancel(message, by=None)  # a sent message cannot be cancelled


def test_the_backoff_grows_with_jitter_and_respects_retry_after(settings):
    settings.STAGEMAIL_RETRY_BASE, settings.STAGEMAIL_RETRY_MAX = 30, 3600
    assert 15 <= retry_delay(1) <= 30
    assert 120 <= retry_delay(4) <= 240
    assert 1800 <= retry_delay(20) <= 3600
    assert retry_delay(1, retry_after=500) == 500


def test_sendgrid_gets_the_stored_message_parts_headers_and_attachments():
    with sendgrid_stand_in() as stand_in:
        configuration = factories.configuration(
            "qa",
            name="SendGrid mail",
            engine="sendgrid",
            smtp_host="",
            sendgrid_api_key="SG.key",
            sendgrid_endpoint=stand_in.endpoint,
        )
        [message] = submit(
            factories.api_credential(configuration),
            cc=(Address("grace@example.com", "Grace Hopper"),),
            bcc=(Address("audit@example.com"),),
            reply_to=Address("billing@example.com"),
            headers={"X-Campaign": "invoices"},
            attachments=(AttachmentData("invoice.pdf", "application/pdf", b"%PDF\x00"),),
        )
        Worker().run_once()
    assert refreshed(message).status == MessageStatus.SENT
    [sent] = stand_in.requests
    assert sent["json"] == {
        "from": {"email": "noreply@example.com"},
        "subject": "Invoice",
        "personalizations": [
            {
                "to": [{"email": "ada@example.com", "name": "Ada"}],
                "cc": [{"email": "grace@example.com", "name": "Grace Hopper"}],
                "bcc": [{"email": "audit@example.com"}],
            }
        ],
        "content": [
            {"type": "text/plain", "value": "Your invoice.\n"},
            {"type": "text/html", "value": "<p>Your invoice.</p>\n"},
        ],
        "attachments": [
            {
                "content": "JVBERgA=",
                "type": "application/pdf",
                "filename": "invoice.pdf",
                "disposition": "attachment",
            }
        ],
        "headers": {"Message-ID": message.message_id, "X-Campaign": "invoices"},
        "reply_to": {"email": "billing@example.com"},
    }


def test_a_claim_takes_abandoned_leases_first_then_the_soonest_due(settings):
    credential = credential_for(free_port())
    now = timezone.now()
    later, soon, sooner, abandoned, scheduled = submit(credential, 5)
    Message.objects.filter(pk=later.pk).update(next_attempt_at=now - timedelta(seconds=1))
    Message.objects.filter(pk=soon.pk).update(next_attempt_at=now - timedelta(seconds=2))
    Message.objects.filter(pk=sooner.pk).update(
        status=MessageStatus.DEFERRED, next_attempt_at=now - timedelta(seconds=3)
    )
    Message.objects.filter(pk=abandoned.pk).update(
        status=MessageStatus.SENDING, lease_until=now - timedelta(seconds=1)
    )
    Message.objects.filter(pk=scheduled.pk).update(
        send_at=now + timedelta(minutes=5), next_attempt_at=now + timedelta(minutes=5)
    )

    assert {c.message.pk for c in claim(2)} == {abandoned.pk, sooner.pk}
    assert {c.message.pk for c in claim(10)} == {soon.pk, later.pk}
    assert claim(10) == []
