"""A fault of Stagemail's own is answered in JSON, like every other API answer."""

import pytest

from emailconfig.services import outbox
from tests.api.conftest import message_body
from tests.api.test_messages import URL

pytestmark = pytest.mark.django_db


def test_an_unexpected_error_is_a_json_500_that_tells_nothing_of_the_inside(
    api, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(outbox, "accept", broken)
    response = api.post(URL, message_body())
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert "secret internals" not in response.content.decode()
    assert "secret internals" in caplog.text  # the operator finds it in the log
