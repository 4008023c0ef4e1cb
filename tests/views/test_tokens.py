import pytest
from django.urls import reverse

from emailconfig.models import ApiToken
from emailconfig.services import tokens
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return factories.app("Billing")


def test_an_issued_token_is_shown_once_and_stored_hashed(editor_client, app):
    url = reverse("emailconfig:token_issue", args=["billing", "qa"])
    response = editor_client.post(url, follow=True)
    token = response.context["new_token"]
    assert token.startswith("smk_") and token in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    credential = ApiToken.objects.get()
    assert credential.token_hash != token and token not in credential.token_hash
    assert tokens.authenticate(token) == credential

    listing = editor_client.get(reverse("emailconfig:token_list", args=["billing", "qa"]))
    assert token not in listing.content.decode()
    assert credential.prefix in listing.content.decode()


def test_reloading_the_page_that_shows_a_new_token_issues_no_other_and_hides_it(editor_client, app):
    response = editor_client.post(reverse("emailconfig:token_issue", args=["billing", "qa"]))
    assert response.status_code == 302  # Post/Redirect/Get: a reload repeats only the GET
    shown = response["Location"]
    assert shown == reverse("emailconfig:token_list", args=["billing", "qa"])
    waiting = str(dict(editor_client.session))
    token = editor_client.get(shown).context["new_token"]
    assert token.startswith("smk_") and token not in shown
    assert token[4:] not in waiting  # the session keeps it encrypted until it is shown

    reloaded = editor_client.get(shown)
    assert ApiToken.objects.count() == 1
    assert reloaded.context["new_token"] == ""
    assert token not in reloaded.content.decode()


def test_a_new_token_is_shown_only_on_its_own_app_and_stage(editor_client, app):
    factories.app("Shipping")
    editor_client.post(reverse("emailconfig:token_issue", args=["billing", "qa"]))
    other = editor_client.get(reverse("emailconfig:token_list", args=["shipping", "qa"]))
    assert other.context["new_token"] == ""
    assert "smk_" not in other.content.decode()


def test_rotation_gives_the_old_tokens_a_grace_period(editor_client, app):
    old, _ = tokens.issue(app, factories.stage("qa"), by=None)
    editor_client.post(
        reverse("emailconfig:token_issue", args=["billing", "qa"]), {"rotate": "1", "grace": "3600"}
    )
    old.refresh_from_db()
    assert old.expires_at is not None and old.is_active
    assert ApiToken.objects.count() == 2


def test_revoking_stops_a_token_at_once(editor_client, app):
    credential, token = tokens.issue(app, factories.stage("qa"), by=None)
    editor_client.post(reverse("emailconfig:token_revoke", args=["billing", "qa", credential.pk]))
    assert tokens.authenticate(token) is None


def test_a_viewer_sees_tokens_but_cannot_issue_or_revoke(viewer_client, app):
    credential, _ = tokens.issue(app, factories.stage("qa"), by=None)
    assert (
        viewer_client.get(reverse("emailconfig:token_list", args=["billing", "qa"])).status_code
        == 200
    )
    assert (
        viewer_client.post(reverse("emailconfig:token_issue", args=["billing", "qa"])).status_code
        == 403
    )
    revoke = reverse("emailconfig:token_revoke", args=["billing", "qa", credential.pk])
    assert viewer_client.post(revoke).status_code == 403
    assert ApiToken.objects.count() == 1
