"""Finished messages go after the retention period, with their attempts, set-based."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from emailconfig.composer import AttachmentData
from emailconfig.delivery import Address
from emailconfig.models import DeliveryAttempt, Message, MessageStatus
from emailconfig.services import outbox, retention
from emailconfig.worker import Worker
from tests import factories
from tests.servers import smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


@pytest.fixture
def messages(sink):
    """Four messages, each 40 days old: sent (with an attachment), failed, cancelled, deferred."""
    config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
    credential = factories.api_credential(config)
    submission = outbox.Submission(
        to=(Address("ada@example.com"),),
        subject="Invoice",
        text="Attached.",
        attachments=(AttachmentData("a.pdf", "application/pdf", b"%PDF"),),
    )
    sent = outbox.accept(credential, submission)[0]
    Worker().run_once()
    others = {
        status: outbox.accept(credential, submission)[0]
        for status in (MessageStatus.FAILED, MessageStatus.CANCELLED, MessageStatus.DEFERRED)
    }
    for status, message in others.items():
        Message.objects.filter(pk=message.pk).update(status=status)
    Message.objects.update(created_at=timezone.now() - timedelta(days=40))
    return {MessageStatus.SENT: sent, **others}


def test_finished_messages_older_than_the_period_go_with_their_attempts(messages):
    waiting = messages[MessageStatus.DEFERRED]
    Worker().run_once()  # the deferred one is due: it gets an attempt of its own
    Message.objects.filter(pk=waiting.pk).update(status=MessageStatus.DEFERRED)
    assert retention.purge(days=30) == 3
    [kept] = Message.objects.all()
    assert kept.pk == waiting.pk  # still waiting: never removed
    assert list(DeliveryAttempt.objects.values_list("message_id", flat=True)) == [kept.pk]


def test_a_batch_is_set_based_whatever_its_size(messages):
    with CaptureQueriesContext(connection) as queries:
        assert retention.purge_batch(days=30) == 3
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 3  # select and two deletes, or one statement on PostgreSQL
    assert not any('"raw"' in sql for sql in statements)  # no message is loaded


def test_messages_within_the_period_stay(messages):
    assert retention.purge(days=60) == 0
    assert Message.objects.count() == 4


def test_the_worker_purges_when_a_retention_is_set(messages, settings):
    settings.STAGEMAIL_RETENTION_DAYS = 0
    Worker()._purge_when_due()
    assert Message.objects.count() == 4

    settings.STAGEMAIL_RETENTION_DAYS = 30
    worker = Worker()
    worker._purge_when_due()
    assert Message.objects.count() == 1
    Message.objects.update(status=MessageStatus.SENT)
    worker._purge_when_due()  # looked an instant ago: the next look is in an hour
    assert Message.objects.count() == 1


def test_the_command_counts_then_deletes(messages, capsys):
    call_command("purge_messages", "--days", "30", "--dry-run")
    assert "3 finished messages are older than 30 days." in capsys.readouterr().out
    assert Message.objects.count() == 4
    call_command("purge_messages", "--days", "30")
    assert "Deleted 3 finished messages" in capsys.readouterr().out
    assert Message.objects.count() == 1


def test_the_command_needs_a_period(messages, settings):
    with pytest.raises(CommandError, match="--days"):
        call_command("purge_messages")
    with pytest.raises(CommandError, match="--days"):
        call_command("purge_messages", "--days", "0")
    assert Message.objects.count() == 4
