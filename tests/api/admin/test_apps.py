"""Apps, applying versions, and apps' tokens through the admin API."""

from __future__ import annotations

import pytest

from emailconfig.models import ApiToken, App, AppliedConfiguration, AuditAction, AuditEntry
from tests import factories
from tests.api.admin.conftest import token_for
from tests.api.conftest import ApiClient, message_body

pytestmark = pytest.mark.django_db


def test_apps_show_what_is_applied_on_the_tokens_stages(world, admin_user):
    answer = token_for(admin_user, "read", "qa").get("/apps/billing")
    assert answer.status_code == 200
    assert [(a["stage"], a["version"], a["behind"]) for a in answer.json()["applied"]] == [
        ("qa", 1, False)
    ]
    assert token_for(admin_user, "read", "qa").get("/apps/nothing").status_code == 404


def test_it_registers_an_app_through_the_apps_form(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    answer = client.post("/apps", {"name": "Web Shop"})
    assert answer.status_code == 201
    assert answer.json()["slug"] == "web-shop"
    taken = client.post("/apps", {"name": "Other", "slug": "web-shop"})
    assert taken.status_code == 400
    assert taken.json()["error"]["fields"]["slug"] == ["The slug “web-shop” is already used."]
    assert App.objects.filter(slug="web-shop").count() == 1


def test_applying_an_older_version_pins_the_app(world, admin_user):
    config = world["qa"]["config"]
    first = config.latest_version()
    factories.edit(config, from_name="Ops")
    client = token_for(admin_user, "write", "qa")
    assert client.get("/apps/billing").json()["applied"][0]["behind"] is True
    newest = client.post("/apps/billing/stages/qa/apply", {"version": config.latest_version().pk})
    assert newest.status_code == 200
    assert (newest.json()["version"], newest.json()["pinned"]) == (2, False)
    older = client.post("/apps/billing/stages/qa/apply", {"version": first.pk})
    assert older.status_code == 200
    assert (older.json()["version"], older.json()["pinned"]) == (1, True)
    assert AppliedConfiguration.objects.get(app__slug="billing", stage__slug="qa").pinned
    entry = AuditEntry.objects.filter(action=AuditAction.REAPPLIED).first()
    assert entry.actor.startswith("admin (admin token ")


def test_applying_on_production_asks_for_its_name(world, admin_user):
    client = token_for(admin_user, "write", "production")
    version = world["production"]["config"].latest_version().pk
    refused = client.post("/apps/billing/stages/production/apply", {"version": version})
    assert refused.status_code == 400
    assert "confirm_stage" in refused.json()["error"]["fields"]
    confirmed = client.post(
        "/apps/billing/stages/production/apply",
        {"version": version, "confirm_stage": "Production"},
    )
    assert confirmed.status_code == 200


def test_a_version_of_another_stages_configuration_is_not_applied(world, admin_user):
    client = token_for(admin_user, "write", "qa", "production")
    version = world["production"]["config"].latest_version().pk
    answer = client.post("/apps/billing/stages/qa/apply", {"version": version})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "not_applicable"


def test_app_tokens_are_issued_once_rotated_and_revoked(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    issued = client.post("/apps/billing/stages/qa/tokens")
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert ApiClient(token).post("/api/v1/messages", message_body()).status_code == 202
    listed = client.get("/apps/billing/stages/qa/tokens").json()
    assert token not in str(listed) and "token" not in listed[0]
    rotated = client.post("/apps/billing/stages/qa/tokens/rotate", {"grace_seconds": 3600})
    assert rotated.status_code == 201
    old = ApiToken.objects.get(pk=issued.json()["id"])
    assert old.expires_at is not None and old.is_active  # still works during the grace
    revoked = client.post(f"/apps/billing/stages/qa/tokens/{old.pk}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert ApiClient(token).post("/api/v1/messages", message_body()).status_code == 401
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        AuditAction.TOKEN_ISSUED,
        AuditAction.TOKEN_ROTATED,
        AuditAction.TOKEN_REVOKED,
    } <= actions
