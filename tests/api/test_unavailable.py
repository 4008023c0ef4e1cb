"""The API answers JSON 503 with Retry-After when the database cannot be reached."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.api.conftest import ApiClient, message_body
from tests.servers import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="an in-memory SQLite database cannot go away"
    ),
]


@pytest.fixture
def database_gone():
    """The portal's database stops answering: its connection now points at a closed port."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.parametrize("method", ["post", "get"])
def test_the_api_answers_503_in_json_while_the_database_is_away(
    seeded_transactional_db, qa_world, database_gone, method
):
    client = ApiClient(qa_world["token"])
    if method == "post":
        response = client.post("/api/v1/messages", message_body())
    else:
        response = client.get("/api/v1/messages/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
