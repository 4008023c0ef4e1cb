"""Templates (every stage's) and messages through the admin API."""

from __future__ import annotations

import pytest

from emailconfig.models import AuditAction, AuditEntry, EmailTemplate
from tests.api.admin.conftest import token_for

pytestmark = pytest.mark.django_db
EVERY_STAGE = ("development", "qa", "production")
WELCOME = {"key": "welcome", "name": "Welcome", "subject": "Hi {{ name }}", "text_body": "Hello"}


def test_a_template_is_created_and_edited_through_the_template_form(world, admin_user):
    client = token_for(admin_user, "write", *EVERY_STAGE)
    created = client.post("/templates", {**WELCOME, "sample_data": {"name": "Ada"}})
    assert created.status_code == 201, created.json()
    edited = client.patch("/templates/welcome", {"subject": "Welcome, {{ name }}"})
    assert edited.status_code == 200
    assert edited.json()["text_body"] == "Hello"  # left out: kept
    assert EmailTemplate.objects.get(key="welcome").updated_by == admin_user
    assert client.get("/templates/welcome").json()["subject"] == "Welcome, {{ name }}"
    assert AuditEntry.objects.filter(action=AuditAction.TEMPLATE_EDITED).exists()


def test_template_errors_come_from_the_form(world, admin_user):
    client = token_for(admin_user, "write", *EVERY_STAGE)
    answer = client.post("/templates", {**WELCOME, "subject": "Hi {{ name", "text_body": ""})
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert "subject" in fields and "text_body" in fields


def test_changing_a_template_takes_a_token_reaching_every_stage(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    assert client.post("/templates", WELCOME).status_code == 403
    assert client.get("/templates").status_code == 200


def test_messages_are_listed_with_filters(world, admin_user):
    client = token_for(admin_user, "read", *EVERY_STAGE)
    assert len(client.get("/messages").json()) == 2
    only_qa = client.get("/messages", stage="qa", status="failed", app="billing").json()
    assert [m["stage"] for m in only_qa] == ["qa"]
    assert client.get("/messages", status="sent").json() == []
    wrong = client.get("/messages", status="lost")
    assert wrong.status_code == 400 and "status" in wrong.json()["error"]["fields"]
    assert client.get("/messages", limit=0).status_code == 400


def test_retry_and_cancel(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    message = world["qa"]["message"]
    assert client.post(f"/messages/{message.pk}/cancel").status_code == 409  # failed already
    assert client.post(f"/messages/{message.pk}/retry").json()["status"] == "queued"
    cancelled = client.post(f"/messages/{message.pk}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    entry = AuditEntry.objects.filter(action=AuditAction.MESSAGE_CANCELLED).first()
    assert entry.actor.startswith("admin (admin token ")
