"""The dashboard's daily roll-up: kept by the workers, taken back on retry, backfilled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from emailconfig.delivery import Address
from emailconfig.models import DailyDeliveryCount, Message, MessageStatus
from emailconfig.services import outbox
from emailconfig.worker import Worker
from tests import factories
from tests.servers import smtp_server


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


@pytest.fixture
def credential(sink, db):
    config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
    return factories.api_credential(config)


def submit(credential, subject: str = "Invoice 7") -> Message:
    submission = outbox.Submission(
        to=(Address("ada@example.com", "Ada"),), subject=subject, text="Hello"
    )
    return outbox.accept(credential, submission)[0]


def counts() -> dict[tuple[str, object], tuple[int, int]]:
    return {
        (row.stage.slug, row.day): (row.sent, row.failed)
        for row in DailyDeliveryCount.objects.select_related("stage")
    }


def test_the_worker_counts_sent_and_failed_by_stage_and_day_accepted(credential, sink):
    today = timezone.localdate()
    yesterday = submit(credential)
    Message.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=1))
    submit(credential)
    Worker().run_once()
    sink.handler.data_answer = "554 5.7.1 Rejected"
    submit(credential)
    Worker().run_once()

    assert counts() == {
        ("qa", today - timedelta(days=1)): (1, 0),
        ("qa", today): (1, 1),
    }


def test_a_message_still_to_be_tried_is_not_counted(credential, sink):
    sink.handler.data_answer = "451 4.3.0 Try again later"
    submit(credential)
    Worker().run_once()
    assert Message.objects.get().status == MessageStatus.DEFERRED
    assert counts() == {}


def test_retrying_a_failed_message_takes_it_back_until_it_ends_again(credential, sink):
    today = timezone.localdate()
    sink.handler.data_answer = "554 5.7.1 Rejected"
    message = submit(credential)
    Worker().run_once()
    assert counts() == {("qa", today): (0, 1)}

    assert outbox.retry(message, by=None)
    assert counts() == {("qa", today): (0, 0)}
    sink.handler.data_answer = "250 OK"
    Worker().run_once()
    assert counts() == {("qa", today): (1, 0)}


def test_retrying_a_cancelled_message_leaves_the_counts_alone(credential):
    message = submit(credential)
    assert outbox.cancel(message, by=None)
    assert outbox.retry(message, by=None)
    assert counts() == {}


@pytest.mark.django_db
def test_the_dashboard_charts_the_roll_up_not_the_messages(viewer_client):
    day = timezone.localdate() - timedelta(days=3)
    DailyDeliveryCount.objects.create(stage=factories.stage("qa"), day=day, sent=7, failed=2)
    page = viewer_client.get(reverse("emailconfig:home")).content.decode()
    assert f"<title>{day:%b %-d}: 7 sent</title>" in page
    assert f"<title>{day:%b %-d}: 2 failed</title>" in page


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_messages_already_finished(seeded_transactional_db):
    executor = MigrationExecutor(connection)
    rollup = next(k for k in executor.loader.disk_migrations if k[1].endswith("_daily_rollup"))
    (before,) = executor.loader.graph.node_map[rollup].parents
    executor.migrate([before.key])
    old = executor.loader.project_state([before.key]).apps
    stage = old.get_model("emailconfig", "Stage").objects.get(slug="qa")
    app = old.get_model("emailconfig", "App").objects.create(name="Billing", slug="billing")
    configuration = old.get_model("emailconfig", "EmailConfiguration").objects.create(
        name="QA mail", from_email="noreply@example.com"
    )
    version = old.get_model("emailconfig", "ConfigurationVersion").objects.create(
        configuration=configuration, number=1, name="QA mail", from_email="noreply@example.com"
    )
    now = timezone.now()
    today = timezone.localdate(now)
    for status, age in [("sent", 0), ("sent", 0), ("failed", 0), ("sent", 2), ("queued", 0)]:
        old.get_model("emailconfig", "Message").objects.create(
            app=app,
            stage=stage,
            version=version,
            status=status,
            message_id="<x@example.com>",
            recipients={},
            subject="x",
            give_up_at=now,
            created_at=now - timedelta(days=age),
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert counts() == {("qa", today): (2, 1), ("qa", today - timedelta(days=2)): (1, 0)}
