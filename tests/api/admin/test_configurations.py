"""Configurations through the admin API: the portal's form decides, secrets stay write-only,
edits are guarded against lost updates, production asks for its name."""

from __future__ import annotations

import pytest

from emailconfig.models import AuditAction, AuditEntry, EmailConfiguration
from tests import factories
from tests.api.admin.conftest import PASSWORD, token_for

pytestmark = pytest.mark.django_db

NEW = {
    "name": "Development mail",
    "stages": ["development"],
    "engine": "smtp",
    "smtp_host": "127.0.0.1",
    "smtp_port": 2525,
    "smtp_security": "none",
    "smtp_requires_auth": True,
    "smtp_username": "mailer",
    "smtp_password": "typed-secret-1",
    "from_email": "noreply@example.com",
    "test_recipients": [{"email": "qa@example.com", "name": "QA"}],
    "recipients_mode": "test_list",
}


def test_it_creates_a_configuration_from_the_forms_fields(world, admin_user):
    client = token_for(admin_user, "write", "development")
    answer = client.post("/configurations", NEW)
    assert answer.status_code == 201, answer.json()
    saved = answer.json()
    assert saved["new_version"] == 1
    assert saved["configuration"]["stages"] == ["development"]
    assert saved["configuration"]["settings"]["smtp_port"] == 2525
    assert saved["configuration"]["secrets"]["smtp_password"] == {"stored": True}
    assert saved["configuration"]["test_recipients"] == [{"email": "qa@example.com", "name": "QA"}]
    config = EmailConfiguration.objects.get(name="Development mail")
    assert config.secrets["password"].reveal() == "typed-secret-1"
    assert config.latest_version().created_by == admin_user


def test_secrets_are_never_returned(world, admin_user):
    client = token_for(admin_user, "read", "qa")
    config = world["qa"]["config"]
    stored = config.secrets["password"].token
    for path in (
        "/configurations",
        f"/configurations/{config.pk}",
        f"/configurations/{config.pk}/versions",
    ):
        text = client.get(path).content.decode()
        assert PASSWORD not in text and stored not in text, path
        assert '"stored": true' in text.replace('"stored":true', '"stored": true'), path


def test_the_forms_rules_answer_400_on_their_fields(world, admin_user):
    client = token_for(admin_user, "write", "development")
    answer = client.post("/configurations", {**NEW, "smtp_host": "", "smtp_password": "pässword"})
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert fields["smtp_host"] == ["Enter the SMTP server's host name or IP address."]
    assert "ASCII" in fields["smtp_password"][0]
    assert not EmailConfiguration.objects.filter(name="Development mail").exists()


def test_a_stage_outside_the_token_cannot_be_chosen(world, admin_user):
    client = token_for(admin_user, "write", "development")
    answer = client.post("/configurations", {**NEW, "stages": ["staging-unknown"]})
    assert answer.status_code == 400
    assert "stages" in answer.json()["error"]["fields"]


def test_a_body_with_an_unknown_name_is_refused(world, admin_user):
    client = token_for(admin_user, "write", "development")
    answer = client.post("/configurations", {**NEW, "smtp_pasword": "typo"})
    assert answer.status_code == 400
    assert "smtp_pasword" in answer.json()["error"]["fields"]


def test_an_edit_changes_only_what_it_sends_and_keeps_the_secret(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    config = world["qa"]["config"]
    answer = client.patch(f"/configurations/{config.pk}", {"based_on": 1, "subject_prefix": "[QA]"})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["new_version"] == 2
    config.refresh_from_db()
    assert config.subject_prefix == "[QA]"
    assert config.secrets["password"].reveal() == PASSWORD
    entry = AuditEntry.objects.filter(action=AuditAction.CONFIGURATION_EDITED).first()
    assert entry.actor.startswith("admin (admin token sma_")
    assert entry.details["changes"] == [{"field": "Subject prefix", "old": "—", "new": "[QA]"}]


def test_an_edit_must_say_which_version_it_edited(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    answer = client.patch(f"/configurations/{world['qa']['config'].pk}", {"from_name": "Ops"})
    assert answer.status_code == 400
    assert list(answer.json()["error"]["fields"]) == ["based_on"]


def test_a_stale_edit_is_refused_with_409(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    config = world["qa"]["config"]
    factories.edit(config, from_name="Someone else")  # version 2, saved meanwhile
    answer = client.patch(f"/configurations/{config.pk}", {"based_on": 1, "from_name": "Ops"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "stale"
    config.refresh_from_db()
    assert config.from_name == "Someone else"


def test_production_asks_for_its_name(world, admin_user):
    client = token_for(admin_user, "write", "production")
    config = world["production"]["config"]
    edit = {"based_on": 1, "from_name": "Live"}
    answer = client.patch(f"/configurations/{config.pk}", edit)
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["confirm_stage"][0].startswith(
        "This touches production"
    )
    answer = client.patch(f"/configurations/{config.pk}", {**edit, "confirm_stage": "Production"})
    assert answer.status_code == 200, answer.json()


def test_a_secret_can_be_cleared_with_null(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    config = world["qa"]["config"]
    answer = client.patch(
        f"/configurations/{config.pk}",
        {"based_on": 1, "smtp_requires_auth": False, "smtp_password": None},
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["configuration"]["secrets"]["smtp_password"] == {"stored": False}
    config.refresh_from_db()
    assert config.secrets == {}


def test_versions_and_their_differences(world, admin_user):
    config = world["qa"]["config"]
    factories.edit(config, from_name="Ops", smtp_password=None, smtp_requires_auth=False)
    client = token_for(admin_user, "read", "qa")
    history = client.get(f"/configurations/{config.pk}/versions").json()
    assert [v["number"] for v in history] == [2, 1]
    answer = client.get(f"/configurations/{config.pk}/diff", from_version=1, to_version=2)
    assert answer.status_code == 200
    changes = {c["field"]: (c["old"], c["new"]) for c in answer.json()["changes"]}
    assert changes["Display name"] == ("—", "Ops")
    assert changes["Password"] == ("(hidden)", "(hidden, removed)")
    assert PASSWORD not in answer.content.decode()
    missing = client.get(f"/configurations/{config.pk}/diff", from_version=1, to_version=9)
    assert missing.status_code == 404


def test_an_older_version_is_made_current_again(world, admin_user):
    config = world["qa"]["config"]
    factories.edit(config, from_name="Ops")
    client = token_for(admin_user, "write", "qa")
    stale = client.post(f"/configurations/{config.pk}/versions/1/make-current", {"based_on": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    answer = client.post(f"/configurations/{config.pk}/versions/1/make-current", {"based_on": 2})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["new_version"] == 3
    assert answer.json()["configuration"]["settings"]["from_name"] == ""
    assert answer.json()["configuration"]["secrets"]["smtp_password"] == {"stored": True}
