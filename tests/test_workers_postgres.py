"""Several worker processes against PostgreSQL and a real aiosmtpd: nothing lost, nothing twice.

These run only on PostgreSQL (CI's database); SQLite runs one worker. `make test-faults`
runs the crash test alone.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

import psycopg
import pytest
from django.db import connection
from django.test import Client

from emailconfig.models import DeliveryAttempt, Message, MessageStatus
from emailconfig.services import configurations as configuration_services
from emailconfig.services import tokens
from emailconfig.worker import Worker
from tests import factories
from tests.servers import RecordingHandler, free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several workers need PostgreSQL"),
    pytest.mark.usefixtures("seeded_transactional_db"),
]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def terminate_backends(*pids: int) -> int:
    """pg_terminate_backend from a connection of its own, as an admin or a failover would;
    without pids, every connection to the test database but this thread's. Returns how many."""
    if not pids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = tuple(pid for (pid,) in cursor.fetchall())
    with psycopg.connect(database_url(), autocommit=True) as admin:
        query = "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid"
        return sum(1 for (done,) in admin.execute(query, [list(pids)]) if done)


def start_worker(*, until_done: bool = True, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "STAGEMAIL_RETRY_BASE": "0.2",
        "STAGEMAIL_RETRY_MAX": "1",
        **env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_worker",
            *(["--until-done"] if until_done else []),
            "--poll",
            "0.1",
            "--batch-size",
            env.get("BATCH", "50"),
        ],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.DEVNULL,
    )


def wait(workers: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.wait(timeout=max(1, deadline - time.monotonic()))
        assert worker.returncode == 0


def accept_through_the_api(port: int, n: int) -> list[str]:
    config = factories.configuration("qa", name="QA mail", smtp_port=port)
    app = factories.app("Billing")
    qa = factories.stage("qa")
    configuration_services.apply_version(app, qa, config.latest_version(), by=None)
    _, token = tokens.issue(app, qa, by=None)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    ids = []
    for i in range(n):
        response = client.post(
            "/api/v1/messages",
            {"to": [f"user{i}@example.com"], "subject": f"Message {i}", "text": "Hello"},
            content_type="application/json",
        )
        assert response.status_code == 202
        ids.append(response.json()["message_id"])
    return ids


def received_ids(sink) -> Counter[str]:
    return Counter(r.message["Message-ID"] for r in sink.handler.received)


def test_two_workers_deliver_500_messages_exactly_once():
    with smtp_server() as sink:
        sent_ids = accept_through_the_api(sink.port, 500)
        wait([start_worker(), start_worker()])
        received = received_ids(sink)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 500
    assert set(received) == set(sent_ids)
    assert max(received.values()) == 1


def test_a_sink_down_for_a_while_gets_everything_when_it_is_back():
    port = free_port()
    sent_ids = accept_through_the_api(port, 60)
    workers = [start_worker(), start_worker()]
    deadline = time.monotonic() + 60  # the sink is down: attempts fail and are deferred
    while not Message.objects.filter(status=MessageStatus.DEFERRED).exists():
        assert time.monotonic() < deadline, "no attempt failed while the sink was down"
        time.sleep(0.05)
    with smtp_server(port=port) as sink:
        wait(workers)
        received = received_ids(sink)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 60
    assert set(received) == set(sent_ids)
    assert max(received.values()) == 1


@pytest.mark.faults
def test_a_worker_killed_mid_run_loses_nothing():
    with smtp_server() as sink:
        sent_ids = accept_through_the_api(sink.port, 400)
        lease = {"STAGEMAIL_LEASE_SECONDS": "2", "BATCH": "20"}
        victim, survivor = start_worker(**lease), start_worker(**lease)
        deadline = time.monotonic() + 30
        while Message.objects.filter(status=MessageStatus.SENT).count() < 60:
            assert time.monotonic() < deadline, "the workers made no progress"
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        wait([survivor])
        received = received_ids(sink)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 400
    assert set(received) == set(sent_ids)  # none lost; a message in flight may come twice
    duplicates = sum(count - 1 for count in received.values())
    print(f"\nSIGKILL mid-run: 400 accepted, 400 sent, {duplicates} delivered twice")


@dataclass
class DropsTheDatabaseConnection(RecordingHandler):
    """Terminates a worker's database connection while it sends the first message: the
    worker finds out when it writes the results."""

    backend_pid: int = 0
    also: list = field(default_factory=list)  # more to do at that moment
    dropped: bool = False

    async def handle_DATA(self, server, session, envelope):
        if not self.dropped:
            self.dropped = bool(terminate_backends(self.backend_pid))
            for action in self.also:
                action()
        return await super().handle_DATA(server, session, envelope)


def this_threads_backend() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def test_a_connection_dropped_while_sending_is_opened_again_and_the_results_written():
    with smtp_server(DropsTheDatabaseConnection()) as sink:
        sent_ids = accept_through_the_api(sink.port, 5)
        sink.handler.backend_pid = this_threads_backend()  # the worker below runs here
        started = time.monotonic()
        assert Worker().run_once() == 5
        received = received_ids(sink)
    assert sink.handler.dropped
    assert time.monotonic() - started < 30  # not after the lease (300 s)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 5
    assert Counter(sent_ids) == received  # each exactly once
    assert DeliveryAttempt.objects.count() == 5


def test_a_connection_dropped_between_batches_is_opened_again_for_the_next_claim(monkeypatch):
    monkeypatch.setattr("emailconfig.worker.RECONNECT_SECONDS", 0.1)
    with smtp_server() as sink:
        sent_ids = accept_through_the_api(sink.port, 3)
        assert terminate_backends(this_threads_backend()) == 1
        Worker().run(Event(), poll_seconds=0.1, until_done=True)  # its first claim fails
        received = received_ids(sink)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 3
    assert Counter(sent_ids) == received


def test_a_stopping_worker_that_cannot_write_gives_up_after_a_while_and_names_the_messages(
    monkeypatch, caplog
):
    monkeypatch.setattr("emailconfig.worker.STOP_WRITE_SECONDS", 1.0)
    database = connection.settings_dict
    port = database["PORT"]

    def database_down() -> None:  # reconnecting is refused from now on
        database["PORT"] = str(free_port())

    worker = Worker()
    worker.stop.set()  # SIGTERM came while the batch was out
    try:
        with smtp_server(DropsTheDatabaseConnection(also=[database_down])) as sink:
            ids = accept_through_the_api(sink.port, 3)
            sink.handler.backend_pid = this_threads_backend()
            started = time.monotonic()
            with caplog.at_level(logging.ERROR, logger="stagemail.worker"):
                worker.run_once()
            assert 1.0 <= time.monotonic() - started < 15
    finally:
        database["PORT"] = port
        connection.close()
    [report] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "results of 3 messages could not be written" in report.getMessage()
    for message_id in ids:
        assert message_id in report.getMessage()
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 3  # due after the lease


@pytest.mark.faults
def test_database_connections_dropped_twice_send_nothing_twice(settings):
    """Issue 10's scenario: 2,000 messages, two workers, their connections terminated twice."""
    n = 2000
    settings.STAGEMAIL_API_RATE_LIMIT = n
    with smtp_server() as sink:
        sent_ids = accept_through_the_api(sink.port, n)
        workers = [start_worker(until_done=False, BATCH="100") for _ in range(2)]
        try:
            started = time.monotonic()
            deadline = started + 600
            for at in (n // 4, n // 2):
                while Message.objects.filter(status=MessageStatus.SENT).count() < at:
                    assert time.monotonic() < deadline, "the workers made no progress"
                    time.sleep(0.01)
                terminated = terminate_backends()
                print(f"\nterminated {terminated} worker connections at {at} sent")
            while Message.objects.filter(status=MessageStatus.SENT).count() < n:
                assert time.monotonic() < deadline, "not every message was sent"
                time.sleep(0.1)
            took = time.monotonic() - started
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
        wait(workers)
        received = received_ids(sink)
    duplicates = sum(count - 1 for count in received.values())
    print(f"{n} accepted, {n} sent in {took:.0f} s, duplicates: {duplicates}")
    assert set(received) == set(sent_ids)
    assert duplicates == 0
