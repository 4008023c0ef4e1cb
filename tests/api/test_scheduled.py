"""send_at: a message is delivered no earlier; DELETE cancels one that has not been sent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from emailconfig import mime
from emailconfig.models import AuditAction, AuditEntry, Message, MessageStatus
from emailconfig.services import configurations, outbox
from emailconfig.worker import Worker
from tests import factories
from tests.api.conftest import ApiClient, message_body
from tests.servers import smtp_server

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


@pytest.fixture
def sink(qa_world):
    """The app's applied configuration delivers to an aiosmtpd server on loopback."""
    with smtp_server() as server:
        version = factories.edit(qa_world["config"], smtp_port=server.port)
        configurations.apply_version(qa_world["app"], qa_world["stage"], version, by=None)
        yield server


def in_(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def test_a_scheduled_message_is_not_sent_before_its_time_and_is_sent_after(api, sink):
    send_at = timezone.now() + timedelta(seconds=1)
    answer = api.post(URL, message_body(send_at=send_at.isoformat())).json()
    assert datetime.fromisoformat(answer["send_at"]) == send_at

    assert Worker().run_once() == 0
    assert sink.handler.received == []

    Message.objects.filter(pk=answer["id"]).update(next_attempt_at=timezone.now())
    assert Worker().run_once() == 1
    [received] = sink.handler.received
    assert received.message["Message-ID"] == answer["message_id"]


def test_a_scheduled_message_is_sent_once_its_time_has_come(api, sink):
    # The worker's own clock, no shortcut: due in 0.3 s, claimed after.
    answer = api.post(URL, message_body(send_at=in_(timedelta(seconds=0.3)))).json()
    assert Worker().run_once() == 0
    Worker().run(_stopping_after(seconds=3, sink=sink), poll_seconds=0.05)
    [received] = sink.handler.received
    assert received.message["Message-ID"] == answer["message_id"]
    message = Message.objects.get(pk=answer["id"])
    assert message.sent_at >= message.send_at


def _stopping_after(*, seconds: float, sink):
    """A stop event set once the sink received a message, or after `seconds`."""
    import threading
    import time

    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + seconds
        while not sink.handler.received and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


def test_a_scheduled_message_is_dated_when_it_is_due(api):
    send_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    answer = api.post(URL, message_body(send_at=send_at.isoformat())).json()
    message = Message.objects.get(pk=answer["id"])
    parsed = mime.message_from_bytes(bytes(message.raw), policy=mime.policy.default)
    assert parsed["Date"].datetime == send_at
    assert message.next_attempt_at == send_at
    assert message.give_up_at > send_at


def test_the_status_shows_when_a_message_is_scheduled(api):
    send_at = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    message_id = api.post(URL, message_body(send_at=send_at.isoformat())).json()["id"]
    answer = api.get(f"{URL}/{message_id}").json()
    assert answer["status"] == "queued"
    assert datetime.fromisoformat(answer["send_at"]) == send_at
    unscheduled = api.post(URL, message_body()).json()["id"]
    assert api.get(f"{URL}/{unscheduled}").json()["send_at"] is None


@pytest.mark.parametrize("send_at", ["2001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00"])
def test_a_time_in_the_past_sends_now(api, send_at):
    answer = api.post(URL, message_body(send_at=send_at))
    assert answer.status_code == 202
    assert answer.json()["send_at"] is None
    assert Message.objects.get().next_attempt_at <= timezone.now()


def test_a_time_without_its_offset_is_refused(api):
    response = api.post(URL, message_body(send_at="2026-12-24T09:00:00"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"send_at": ["Input should have timezone info"]}


@pytest.mark.parametrize(
    "send_at",
    [lambda: in_(timedelta(days=30, minutes=1)), lambda: "9999-12-31T23:59:59-05:00"],
    ids=["a-minute-too-late", "year-9999"],
)
def test_a_time_beyond_30_days_is_refused(api, send_at):
    # Computed when the test runs: test ids must not depend on the clock (parallel runs
    # collect them in each process).
    response = api.post(URL, message_body(send_at=send_at()))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "send_at_too_late"
    assert error["fields"] == {
        "send_at": ["At most 30 days from now (a time in the past sends now)."]
    }
    assert not Message.objects.exists()


def test_a_batch_schedules_each_message_on_its_own(api):
    later = in_(timedelta(days=1))
    messages = [message_body(send_at=later), message_body(), message_body(send_at="tomorrow")]
    results = api.post(f"{URL}/batch", {"messages": messages}).json()["results"]
    assert results[0]["message"]["send_at"] is not None
    assert results[1]["message"]["send_at"] is None
    assert list(results[2]["error"]["fields"]) == ["messages[2].send_at"]


def test_a_key_repeated_with_another_send_at_is_a_conflict(api):
    api.post(URL, message_body(idempotency_key="k", send_at=in_(timedelta(hours=1))))
    again = api.post(URL, message_body(idempotency_key="k", send_at=in_(timedelta(hours=2))))
    assert again.status_code == 409


def test_a_retried_message_waits_for_its_send_at(api, qa_world):
    send_at = timezone.now() + timedelta(hours=1)
    message_id = api.post(URL, message_body(send_at=send_at.isoformat())).json()["id"]
    api.delete(f"{URL}/{message_id}")
    outbox.retry(Message.objects.get(pk=message_id), by=None)
    message = Message.objects.get(pk=message_id)
    assert message.status == MessageStatus.QUEUED
    assert message.next_attempt_at == send_at


# DELETE /api/v1/messages/{id} ------------------------------------------------------------


def test_deleting_a_waiting_message_cancels_it_and_records_the_token(api, qa_world, sink):
    message_id = api.post(URL, message_body(send_at=in_(timedelta(hours=1)))).json()["id"]
    response = api.delete(f"{URL}/{message_id}")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert Message.objects.get(pk=message_id).status == MessageStatus.CANCELLED
    [entry] = AuditEntry.objects.filter(action=AuditAction.MESSAGE_CANCELLED)
    prefix = qa_world["credential"].prefix
    assert entry.actor == f"API token {prefix}… (billing/qa)"
    assert entry.address == "127.0.0.1"
    assert entry.target == f"Message {message_id}"
    Message.objects.filter(pk=message_id).update(next_attempt_at=timezone.now())
    assert Worker().run_once() == 0
    assert sink.handler.received == []


def test_deleting_a_cancelled_message_again_answers_its_status(api):
    message_id = api.post(URL, message_body()).json()["id"]
    api.delete(f"{URL}/{message_id}")
    again = api.delete(f"{URL}/{message_id}")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert AuditEntry.objects.filter(action=AuditAction.MESSAGE_CANCELLED).count() == 1


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (MessageStatus.SENDING, "The message is being sent right now; it cannot be stopped."),
        (MessageStatus.SENT, "The message is sent already; only a message still waiting"),
        (MessageStatus.FAILED, "The message is failed already; only a message still waiting"),
    ],
)
def test_a_message_no_longer_waiting_cannot_be_cancelled(api, status, text):
    message_id = api.post(URL, message_body()).json()["id"]
    Message.objects.filter(pk=message_id).update(status=status)
    response = api.delete(f"{URL}/{message_id}")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_cancellable"
    assert error["message"].startswith(text)
    assert Message.objects.get(pk=message_id).status == status


def test_a_message_of_another_app_or_none_at_all_is_a_404(api, qa_world):
    from emailconfig.services import tokens

    message_id = api.post(URL, message_body()).json()["id"]
    other_app = factories.app("Shop")
    configurations.apply_version(
        other_app, qa_world["stage"], qa_world["config"].latest_version(), by=None
    )
    _, other_token = tokens.issue(other_app, qa_world["stage"], by=None)
    assert ApiClient(other_token).delete(f"{URL}/{message_id}").status_code == 404
    assert api.delete(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404
    assert Message.objects.get(pk=message_id).status == MessageStatus.QUEUED
