"""The account's API tokens page: issue (shown once), list, revoke; administrators see all."""

from __future__ import annotations

import pytest
from django.test import Client

from emailconfig.models import AdminToken, AuditAction, AuditEntry, StageRole
from emailconfig.services import admin_tokens
from tests import factories

pytestmark = pytest.mark.django_db
PAGE = "/account/api-tokens/"


@pytest.fixture
def qa_editor_client(django_user_model):
    user = django_user_model.objects.create_user("qa-editor", "qa@example.com", "pw")
    factories.grant(user, StageRole.EDITOR, "qa")
    client = Client()
    client.force_login(user)
    return client


def _issue(client: Client, **overrides: object):
    data = {"name": "deploy script", "scope": "write", "stages": [factories.stage("qa").pk]}
    return client.post(PAGE + "new/", {**data, **overrides})


def test_a_new_token_is_shown_once_after_a_redirect(qa_editor_client):
    response = _issue(qa_editor_client)
    assert response.status_code == 302 and response["Location"] == PAGE
    page = qa_editor_client.get(PAGE).content.decode()
    credential = AdminToken.objects.get()
    assert f'<code id="new-token" class="token">{credential.prefix}' in page
    assert admin_tokens.authenticate(page.split('id="new-token" class="token">')[1][:47])
    again = qa_editor_client.get(PAGE).content.decode()
    assert "new-token" not in again and "deploy script" in again
    assert credential.scope == "write" and [s.slug for s in credential.stages.all()] == ["qa"]
    entry = AuditEntry.objects.get(action=AuditAction.ADMIN_TOKEN_ISSUED)
    assert entry.actor == "qa-editor" and entry.details["scope"] == "write"


def test_only_stages_one_sees_can_be_chosen(qa_editor_client):
    response = _issue(qa_editor_client, stages=[factories.stage("production").pk])
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not AdminToken.objects.exists()


def test_one_revokes_ones_own_token_but_not_anothers(
    qa_editor_client, admin_user, django_user_model
):
    mine, _ = admin_tokens.issue(
        django_user_model.objects.get(username="qa-editor"),
        name="mine",
        scope="read",
        stages=[factories.stage("qa")],
        by=None,
    )
    theirs, _ = admin_tokens.issue(
        admin_user, name="theirs", scope="read", stages=[factories.stage("qa")], by=None
    )
    page = qa_editor_client.get(PAGE).content.decode()
    assert "mine" in page and "theirs" not in page
    assert qa_editor_client.post(f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    assert qa_editor_client.post(f"{PAGE}{mine.pk}/revoke/").status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert AuditEntry.objects.filter(action=AuditAction.ADMIN_TOKEN_REVOKED).count() == 1


def test_administrators_see_and_revoke_everyones(admin_client, django_user_model):
    someone = django_user_model.objects.create_user("someone")
    factories.grant(someone, StageRole.VIEWER, "qa")
    theirs, _ = admin_tokens.issue(
        someone, name="their script", scope="read", stages=[factories.stage("qa")], by=None
    )
    page = admin_client.get(PAGE).content.decode()
    assert "their script" in page and "someone" in page
    assert admin_client.post(f"{PAGE}{theirs.pk}/revoke/").status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None
