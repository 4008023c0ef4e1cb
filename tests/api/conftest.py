import pytest
from django.test import Client

from emailconfig.services import configurations as configuration_services
from emailconfig.services import tokens
from tests import factories


class ApiClient:
    """The Django test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path: str, body: object, **headers: str):
        return self.client.post(
            path, body, content_type="application/json", headers={**self.headers, **headers}
        )

    def get(self, path: str):
        return self.client.get(path, headers=self.headers)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)


@pytest.fixture
def qa_world(db):
    config = factories.configuration(
        "qa",
        name="QA mail",
        recipients_mode="test_list",
        test_recipients=[{"email": "qa@example.com", "name": "QA"}],
    )
    app = factories.app("Billing")
    qa = factories.stage("qa")
    configuration_services.apply_version(app, qa, config.latest_version(), by=None)
    credential, token = tokens.issue(app, qa, by=None)
    return {"config": config, "app": app, "stage": qa, "credential": credential, "token": token}


@pytest.fixture
def api(qa_world) -> ApiClient:
    return ApiClient(qa_world["token"])


def message_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "to": ["ada@example.com", {"email": "grace@example.com", "name": "Grace Hopper"}],
        "subject": "Your invoice",
        "text": "Hello, your invoice is ready.",
        "html": "<p>Hello, your invoice is ready.</p>",
    }
    body.update(overrides)
    return body
