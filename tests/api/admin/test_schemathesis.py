"""The admin API's part of the OpenAPI document against the live API, with schemathesis and
a write token reaching every stage: no 500, and no answer outside the document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from emailconfig.models import Stage
from emailconfig.services import admin_tokens

EXAMPLES = 15  # per operation and phase: the admin API has many operations
DOCUMENT = "/api/v1/openapi.json"


def _document() -> schemathesis.openapi.OpenApiSchema:
    config = SchemathesisConfig.from_dict(
        {
            # A revoked app token stays on record, as a cancelled message does.
            "checks": {"use_after_free": {"enabled": False}},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    generation = config.projects.default.generation
    generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    # Beside 2xx: a case that probes the credentials (401), and what the document cannot
    # know in advance: the forms' own rules (400: a
    # host the engine needs, a template that does not compile), objects that do not exist
    # (404), a stale edit or a version of another stage (409).
    acceptance = config.projects.default.checks.positive_data_acceptance
    acceptance.expected_statuses = ["2xx", "400", "401", "404", "409"]
    document = schemathesis.openapi.from_wsgi(DOCUMENT, WSGIHandler(), config=config)
    return document.include(path_regex="^/api/v1/admin/")


schema = _document()
_issued: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class AdminToken:
    def get(self, case, context):
        return _issued.get("token")

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture
def portal(world, admin_user) -> Iterator[None]:
    _, _issued["token"] = admin_tokens.issue(
        admin_user, name="schemathesis", scope="write", stages=list(Stage.objects.all()), by=None
    )
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)
    _issued.clear()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_admin_answer_keeps_the_documents_promises(case, portal):
    case.call_and_validate()
