"""The scope matrix: read or write, stage in or out of the token's reach, and the owner's own."""

from __future__ import annotations

import pytest

from emailconfig.models import StageGrant, StageRole
from emailconfig.services import admin_tokens, tokens
from tests import factories
from tests.api.admin.conftest import AdminClient, token_for
from tests.api.conftest import ApiClient, message_body

pytestmark = pytest.mark.django_db


def test_a_token_lists_only_its_stages(world, admin_user):
    client = token_for(admin_user, "read", "qa")
    answer = client.get("/stages")
    assert answer.status_code == 200
    assert [s["slug"] for s in answer.json()] == ["qa"]
    assert answer.json()[0]["editable"] is False  # a read token


def test_objects_of_a_stage_outside_the_token_answer_404(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    production = world["production"]
    assert client.get(f"/configurations/{production['config'].pk}").status_code == 404
    assert client.get(f"/messages/{production['message'].pk}").status_code == 404
    assert client.post(f"/messages/{production['message'].pk}/retry").status_code == 404
    assert client.get("/stages/production").status_code == 404
    assert client.get(f"/configurations/{world['qa']['config'].pk}").status_code == 200
    answer = client.get("/messages")
    assert [m["stage"] for m in answer.json()] == ["qa"]


def test_a_read_token_reads_but_every_write_is_403(world, admin_user):
    client = token_for(admin_user, "read", "qa", "production")
    qa = world["qa"]
    assert client.get(f"/messages/{qa['message'].pk}").status_code == 200
    writes = [
        client.post(f"/messages/{qa['message'].pk}/retry"),
        client.post(f"/messages/{qa['message'].pk}/cancel"),
        client.post("/apps/billing/stages/qa/apply", {"version": qa["config"].latest_version().pk}),
        client.post("/apps/billing/stages/qa/tokens"),
        client.post("/apps", {"name": "Shop"}),
        client.post("/configurations", {"name": "New", "stages": ["qa"]}),
        client.patch(f"/configurations/{qa['config'].pk}", {"based_on": 1, "name": "Renamed"}),
        client.post("/templates", {"key": "hi", "name": "Hi", "subject": "Hi", "text_body": "x"}),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes)
    assert writes[0].json()["error"] == {
        "code": "forbidden",
        "message": "This token may only read.",
        "fields": {},
    }


def test_a_write_token_writes_on_its_stages(world, admin_user):
    client = token_for(admin_user, "write", "qa")
    answer = client.post(f"/messages/{world['qa']['message'].pk}/retry")
    assert answer.status_code == 200
    assert answer.json()["status"] == "queued"


def test_a_token_never_exceeds_its_owner(world, qa_editor):
    """A QA editor's write token naming Production reaches QA only."""
    client = token_for(qa_editor, "write", "qa", "production")
    assert [s["slug"] for s in client.get("/stages").json()] == ["qa"]
    assert client.get(f"/messages/{world['production']['message'].pk}").status_code == 404


def test_a_viewers_write_token_still_only_reads(world, django_user_model):
    viewer = django_user_model.objects.create_user("qa-viewer")
    factories.grant(viewer, StageRole.VIEWER, "qa")
    client = token_for(viewer, "write", "qa")
    assert client.post(f"/messages/{world['qa']['message'].pk}/retry").status_code == 403


def test_an_owner_losing_a_role_narrows_the_token_at_once(world, qa_editor):
    client = token_for(qa_editor, "write", "qa")
    message = world["qa"]["message"]
    assert client.get(f"/messages/{message.pk}").status_code == 200
    StageGrant.objects.filter(user=qa_editor).update(role=StageRole.VIEWER)
    assert client.post(f"/messages/{message.pk}/retry").status_code == 403
    StageGrant.objects.filter(user=qa_editor).delete()
    assert client.get(f"/messages/{message.pk}").status_code == 404


def test_a_production_stage_takes_a_production_editor(world, django_user_model):
    editor = django_user_model.objects.create_user("prod-reader")
    factories.grant(editor, StageRole.VIEWER, "production")
    StageGrant.objects.filter(user=editor).update(role=StageRole.EDITOR)  # reads only there
    client = token_for(editor, "write", "production")
    assert client.post(f"/messages/{world['production']['message'].pk}/retry").status_code == 403


def test_revoked_tokens_and_deactivated_owners_get_401(world, qa_editor):
    stage = factories.stage("qa")
    credential, token = admin_tokens.issue(
        qa_editor, name="x", scope="read", stages=[stage], by=None
    )
    client = AdminClient(token)
    assert client.get("/stages").status_code == 200
    qa_editor.is_active = False
    qa_editor.save()
    assert client.get("/stages").status_code == 401
    qa_editor.is_active = True
    qa_editor.save()
    admin_tokens.revoke(credential, by=None)
    answer = client.get("/stages")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "unauthorized"


def test_app_tokens_and_admin_tokens_do_not_open_each_others_api(world, admin_user):
    _, app_secret = tokens.issue(world["app"], factories.stage("qa"), by=None)
    assert AdminClient(app_secret).get("/stages").status_code == 401
    _, admin_secret = admin_tokens.issue(
        admin_user, name="x", scope="write", stages=[factories.stage("qa")], by=None
    )
    assert ApiClient(admin_secret).post("/api/v1/messages", message_body()).status_code == 401


def test_an_unknown_admin_path_answers_json_404(world, admin_user):
    answer = token_for(admin_user, "read", "qa").get("/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
