"""POST /api/v1/messages/batch: each message checked on its own, the valid ones stored at once."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from emailconfig.models import AppliedConfiguration, Message, RateWindow
from tests.api.conftest import ApiClient, message_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/batch"


def test_each_message_gets_its_own_result_in_order(api):
    messages = [
        message_body(subject="First"),
        message_body(to=[{"name": "Ada"}]),
        message_body(template="nope", subject=None, text=None, html=None),
        message_body(subject="Fourth", to=["not-an-address"]),
        message_body(subject="Fifth", idempotency_key="fifth"),
    ]
    response = api.post(URL, {"messages": messages})

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["accepted"], answer["refused"]) == (2, 3)
    first, missing, template, address, fifth = answer["results"]
    assert first["status"] == fifth["status"] == 202
    assert Message.objects.get(pk=first["message"]["id"]).subject == "First"
    assert fifth["message"]["status_url"].endswith(f"/api/v1/messages/{fifth['message']['id']}")
    assert (first["replayed"], first["error"]) == (False, None)
    # The single endpoint's error shape, each field named by its path in the batch.
    assert missing["status"] == 400
    assert missing["error"]["code"] == "validation_error"
    assert list(missing["error"]["fields"]) == ["messages[1].to[0].email"]
    assert template["status"] == 422
    assert template["error"]["fields"] == {
        "messages[2].template": ["No template has the key “nope”."]
    }
    assert address["status"] == 400
    assert "not a valid address" in address["error"]["fields"]["messages[3].to"][0]
    assert sorted(Message.objects.values_list("subject", flat=True)) == ["Fifth", "First"]


def test_a_message_that_is_not_an_object_is_refused_on_its_own(api):
    response = api.post(URL, {"messages": ["hello", message_body()]})
    assert response.status_code == 200
    refused, accepted = response.json()["results"]
    assert list(refused["error"]["fields"]) == ["messages[0]"]
    assert accepted["status"] == 202


@pytest.mark.parametrize("count", [0, 101])
def test_a_batch_of_more_than_100_or_no_messages_is_refused_as_a_whole(api, count):
    response = api.post(URL, {"messages": [message_body()] * count})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"messages": [f"Send 1 to 100 messages in one request, not {count}."]}
    assert not Message.objects.exists()


def test_100_messages_are_taken(api):
    response = api.post(URL, {"messages": [message_body()] * 100})
    assert response.status_code == 200
    assert response.json()["accepted"] == 100
    assert Message.objects.count() == 100


def test_a_batch_that_is_not_a_list_of_messages_is_a_400_naming_the_field(api):
    response = api.post(URL, {"messages": "all of them"})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["messages"]


def test_each_message_keeps_its_idempotency_key_when_the_batch_is_sent_again(api):
    messages = [message_body(subject=f"Invoice {i}", idempotency_key=f"inv-{i}") for i in range(3)]
    first = api.post(URL, {"messages": messages}).json()["results"]
    messages.append(message_body(subject="New", idempotency_key="inv-new"))
    again = api.post(URL, {"messages": messages}).json()["results"]

    assert [r["message"]["id"] for r in again[:3]] == [r["message"]["id"] for r in first]
    assert [r["replayed"] for r in again] == [True, True, True, False]
    assert Message.objects.count() == 4


def test_a_key_reused_for_another_message_is_a_conflict_for_that_message_only(api):
    api.post("/api/v1/messages", message_body(idempotency_key="inv-1"))
    messages = [message_body(subject="Changed", idempotency_key="inv-1"), message_body()]
    results = api.post(URL, {"messages": messages}).json()["results"]
    assert [r["status"] for r in results] == [409, 202]
    assert results[0]["error"]["code"] == "idempotency_conflict"


def test_a_key_twice_in_one_batch_stores_one_message(api):
    same = message_body(idempotency_key="inv-1")
    other = message_body(subject="Other", idempotency_key="inv-1")
    results = api.post(URL, {"messages": [same, same, other]}).json()["results"]
    assert results[0]["message"]["id"] == results[1]["message"]["id"]
    assert [r["replayed"] for r in results[:2]] == [False, True]
    assert results[2]["status"] == 409
    assert Message.objects.count() == 1


def test_the_rate_limit_counts_each_message(api, qa_world):
    AppliedConfiguration.objects.update(rate_limit_per_minute=3)
    api.post("/api/v1/messages", message_body())
    results = api.post(URL, {"messages": [message_body()] * 4}).json()["results"]
    assert [r["status"] for r in results] == [202, 202, 429, 429]
    assert results[2]["error"]["code"] == "rate_limited"
    assert Message.objects.count() == 3
    assert RateWindow.objects.get().count == 3


def test_a_database_failure_stores_none_of_the_batch(api):
    """The messages and their count commit together: the counter's write fails last, after
    every message row is inserted, and takes them all back."""

    def counter_fails(execute, sql, params, many, context):
        if "emailconfig_ratewindow" in sql and sql.lstrip().startswith("INSERT"):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter_fails):
        response = api.post(URL, {"messages": [message_body()] * 3})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"] == "5"
    assert not Message.objects.exists()
    assert not RateWindow.objects.exists()


def test_no_configuration_refuses_the_whole_batch(api):
    AppliedConfiguration.objects.all().delete()
    response = api.post(URL, {"messages": [message_body()]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_configuration"


@pytest.mark.parametrize("path", ["/api/v1/messages", URL])
def test_a_key_stored_by_another_request_meanwhile_answers_its_message(api, qa_world, path):
    """Another request commits a message with the same key just after this one looked."""
    body = message_body(idempotency_key="inv-1")
    elsewhere = ApiClient(qa_world["token"])
    looked = []

    def other_request_wins(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if '"idempotency_key"' in sql and not looked:
            looked.append(sql)  # first: the other request looks up its key too
            looked.append(elsewhere.post("/api/v1/messages", body).json()["id"])
        return result

    with connection.execute_wrapper(other_request_wins):
        response = api.post(path, {"messages": [body, message_body()]} if path == URL else body)
    answer = response.json()
    accepted = answer["results"][0]["message"] if path == URL else answer
    assert accepted["id"] == looked[1]
    assert Message.objects.filter(idempotency_key="inv-1").count() == 1
    assert Message.objects.count() == (2 if path == URL else 1)
