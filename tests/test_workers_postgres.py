"""Several worker processes against PostgreSQL and a real aiosmtpd: nothing lost, nothing twice.

These run only on PostgreSQL (CI's database); SQLite runs one worker. `make test-faults`
runs the crash test alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from emailconfig.models import Message, MessageStatus
from emailconfig.services import configurations as configuration_services
from emailconfig.services import tokens
from tests import factories
from tests.servers import free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several workers need PostgreSQL"),
    pytest.mark.usefixtures("seeded_transactional_db"),
]


def start_worker(**env: str) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "STAGEMAIL_RETRY_BASE": "0.2",
        "STAGEMAIL_RETRY_MAX": "1",
        **env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_worker",
            "--until-done",
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
