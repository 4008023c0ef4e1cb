"""Personas with administrator tokens, and a world on QA and Production to act on."""

from __future__ import annotations

import pytest
from django.test import Client

from emailconfig.delivery import Address
from emailconfig.fields import Secret
from emailconfig.models import Message, StageRole
from emailconfig.services import admin_tokens, outbox, tokens
from emailconfig.services import configurations as configuration_services
from tests import factories

PASSWORD = "s3cret-pw-never-shown"


class AdminClient:
    """The Django test client speaking JSON with an administrator token."""

    def __init__(self, token: str) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, **query: object):
        return self.client.get("/api/v1/admin" + path, query)

    def post(self, path: str, body: object = None):
        return self.client.post("/api/v1/admin" + path, body or {}, content_type="application/json")

    def patch(self, path: str, body: object):
        return self.client.patch("/api/v1/admin" + path, body, content_type="application/json")


def token_for(user, scope: str, *stage_slugs: str) -> AdminClient:
    stages = [factories.stage(slug) for slug in stage_slugs]
    _, token = admin_tokens.issue(user, name="script", scope=scope, stages=stages, by=user)
    return AdminClient(token)


@pytest.fixture
def world(db):
    """QA and Production each with a configuration, Billing applied, and a failed message."""
    app = factories.app("Billing")
    objects = {"app": app}
    for slug in ("qa", "production"):
        config = factories.configuration(
            slug,
            name=f"{slug} mail",
            smtp_requires_auth=True,
            smtp_username="mailer",
            smtp_password=Secret.from_plaintext(PASSWORD),
        )
        stage = factories.stage(slug)
        configuration_services.apply_version(app, stage, config.latest_version(), by=None)
        _, secret = tokens.issue(app, stage, by=None)
        message = outbox.accept(
            tokens.authenticate(secret),
            outbox.Submission(to=(Address("ada@example.com"),), subject="Hi", text="Hello"),
        )[0]
        Message.objects.filter(pk=message.pk).update(status="failed")
        objects[slug] = {"config": config, "message": message, "stage": stage}
    return objects


@pytest.fixture
def qa_editor(django_user_model):
    user = django_user_model.objects.create_user("qa-editor", "qa@example.com", "pw")
    factories.grant(user, StageRole.EDITOR, "qa")
    return user
