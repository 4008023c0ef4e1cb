"""Every answer under /api/v1/ is JSON: a wrong method and an unknown path included."""

import pytest
from django.test import Client


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_a_method_the_messages_path_does_not_take_is_answered_405_in_json(db, method):
    response = getattr(Client(), method)("/api/v1/messages")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Allow"] == "POST"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert f"{method.upper()} is not allowed here" in error["message"]


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/nothing", "/api/v1/nothing/", "/api/v1/messages/", "/api/v1/docs"]
)
def test_an_unknown_api_path_is_answered_404_in_json(db, path):
    response = Client(enforce_csrf_checks=True).post(path, "{}", content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "POST /api/v1/messages" in error["message"]
