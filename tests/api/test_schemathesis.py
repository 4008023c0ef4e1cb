"""The OpenAPI document against the live API, with schemathesis.

Every check runs on cases generated from the document, valid and invalid ones, then the
stateful run follows the document's links from a 202 to the message's status. The document
promises what the API enforces: requests it calls valid are accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from emailconfig.models import AppliedConfiguration

EXAMPLES = 40  # per operation and phase: enough to meet each rule, and quick
STATEFUL_SCENARIOS = 20
DOCUMENT = "/api/v1/openapi.json"


def _document() -> schemathesis.openapi.OpenApiSchema:
    """The document, as the portal serves it (it needs no database)."""
    config = SchemathesisConfig.from_dict(
        {
            # DELETE cancels: the message stays on record, its status "cancelled".
            "checks": {"use_after_free": {"enabled": False}},
            # Links come from the document only: guessing them by name would take an
            # answer's message_id (the RFC 5322 Message-ID) for the path's message_id.
            "phases": {"stateful": {"inference": {"algorithms": []}}},
            # A batch answers a message that breaks the document in that message's own
            # result (see test_batch.py); the request itself is not refused.
            "operations": [
                {
                    "include-operation-id": "submit_batch",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )
    generation = config.projects.default.generation
    generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    # Beside 2xx: a case that probes the credentials, and what the document cannot know in
    # advance and says so (a message or template that does not exist, a message over the size,
    # a key used before, the rate limit).
    acceptance = config.projects.default.checks.positive_data_acceptance
    acceptance.expected_statuses = ["2xx", "401", "404", "409", "413", "422", "429"]
    document = schemathesis.openapi.from_wsgi(DOCUMENT, WSGIHandler(), config=config)
    return document.exclude(path_regex="^/api/v1/admin/")  # tests/api/admin/test_schemathesis.py


schema = _document()
_issued: dict[str, str] = {}  # the token of the running test's app


@schema.auth(refresh_interval=None)
class AppToken:
    def get(self, case, context):
        return _issued.get("token")  # none while tests are collected

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture
def portal(qa_world) -> Iterator[None]:
    """Requests carry the app's token and run in the test's transaction: as Django's test
    client does, a request does not close the database connection when it ends."""
    AppliedConfiguration.objects.update(rate_limit_per_minute=1_000_000)  # not what is tested
    _issued["token"] = qa_world["token"]
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)
    _issued.clear()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_keeps_the_documents_promises(case, portal):
    case.call_and_validate()


def test_the_links_lead_from_a_202_to_the_status_and_cancel(portal):
    answers: Counter[tuple[str, int]] = Counter()

    class Scenarios(schema.as_state_machine()):
        def after_call(self, response, case):
            super().after_call(response, case)
            answers[case.operation.label, response.status_code] += 1

    Scenarios.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The status of messages the scenarios submitted, found through the 202's link.
    assert answers["GET /api/v1/messages/{message_id}", 200] > 0, answers
    assert answers["DELETE /api/v1/messages/{message_id}", 200] > 0, answers


def test_batches_the_document_calls_valid_are_accepted(portal):
    operation = schema["/api/v1/messages/batch"]["POST"]
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def submit(case):
        response = case.call()
        assert response.status_code == 200, response.text
        statuses.update(result["status"] for result in response.json()["results"])

    submit()
    assert statuses[400] == 0, statuses
    assert set(statuses) <= {202, 409, 422}, statuses
    assert statuses[202] >= statuses.total() / 3, statuses


def test_requests_the_document_calls_valid_are_accepted(portal):
    """The finding itself: a client that follows the document gets its messages sent."""
    operation = schema["/api/v1/messages"]["POST"]
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def submit(case):
        statuses[case.call().status_code] += 1

    submit()
    assert statuses[400] == 0, statuses  # the document's rules, as the API enforces them
    # The rest answer what the document cannot know: whether a template exists (about half
    # the cases draw one), whether an idempotency key was used before.
    assert set(statuses) <= {202, 409, 422}, statuses
    assert statuses[202] >= statuses.total() / 3, statuses
