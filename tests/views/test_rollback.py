"""Rollback: make an older version current (a new version, the history kept), and apply an
older version to an app on purpose (pinned, not behind)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emailconfig.models import AppliedConfiguration, AuditAction, AuditEntry
from emailconfig.services import configurations as services
from tests import factories

pytestmark = pytest.mark.django_db


def _restore_url(config, number: int) -> str:
    return reverse("emailconfig:configuration_restore", args=[config.pk, number])


@pytest.fixture
def edited():
    """QA mail v1 (port 1025, password "first", one test recipient), then v2 changing all."""
    config = factories.configuration(
        "qa",
        name="QA mail",
        smtp_port=1025,
        smtp_requires_auth=True,
        smtp_username="mailer",
        smtp_password="first",
        recipients_mode="test_list",
        test_recipients=[{"email": "qa@example.com", "name": "QA"}],
    )
    factories.edit(config, smtp_port=2525, smtp_password="second", subject_prefix="[QA] ")
    return config


def test_the_confirmation_shows_what_making_a_version_current_changes(editor_client, edited):
    page = editor_client.get(_restore_url(edited, 1)).content.decode()
    assert "Make version 1 of QA mail current?" in page
    assert "This records version 3" in page
    assert "2525" in page and "1025" in page
    assert "(hidden, changed)" in page  # the password, never its value
    assert "first" not in page and "second" not in page
    assert edited.versions.count() == 2  # nothing recorded by looking


def test_making_a_version_current_records_a_new_equal_one(editor_client, edited):
    response = editor_client.post(_restore_url(edited, 1), {"based_on": 2})
    assert response.status_code == 302
    v1, v3 = edited.versions.get(number=1), edited.versions.get(number=3)
    assert (v3.options["port"], v3.subject_prefix, v3.test_recipients) == (
        1025,
        "",
        v1.test_recipients,
    )
    assert v3.secrets["password"].reveal() == "first"
    assert v3.name == "QA mail" and v3.stage_names == ["QA"]
    assert edited.versions.count() == 3  # v2 is kept
    entry = AuditEntry.objects.filter(action=AuditAction.CONFIGURATION_EDITED).latest("pk")
    assert entry.details["restored_from"] == 1 and entry.details["version"] == 3


def test_a_version_equal_to_the_current_one_records_nothing(editor_client, edited):
    services.restore_version(edited, edited.versions.get(number=1), by=None, based_on=2)
    response = editor_client.post(_restore_url(edited, 3), {"based_on": 3}, follow=True)
    assert "Version 3 is what is current already." in response.content.decode()
    assert edited.versions.count() == 3


def test_a_restore_from_a_stale_page_is_refused(editor_client, edited):
    factories.edit(edited, subject_prefix="[later] ")  # v3, saved meanwhile
    response = editor_client.post(_restore_url(edited, 1), {"based_on": 2}, follow=True)
    assert "Someone else saved version 3" in response.content.decode()
    assert edited.versions.count() == 3


def test_restoring_on_production_asks_for_the_stage_name(editor_client):
    config = factories.configuration("production", name="Live mail", smtp_port=1025)
    factories.edit(config, smtp_port=2525)
    response = editor_client.post(_restore_url(config, 1), {"based_on": 2})
    assert response.status_code == 200
    assert "This touches production" in response.content.decode()
    assert config.versions.count() == 2
    confirmed = {"based_on": 2, "confirm_stage": "Production"}
    assert editor_client.post(_restore_url(config, 1), confirmed).status_code == 302
    assert config.versions.count() == 3


def test_viewers_see_no_make_current_and_may_not(viewer_client, edited):
    detail = reverse("emailconfig:configuration_detail", args=[edited.pk])
    assert "Make current" not in viewer_client.get(detail).content.decode()
    assert viewer_client.post(_restore_url(edited, 1), {"based_on": 2}).status_code == 403
    assert edited.versions.count() == 2


def test_an_older_version_applied_on_purpose_is_pinned_not_behind(editor_client, edited):
    app, qa = factories.app("Billing"), factories.stage("qa")
    v1 = edited.versions.get(number=1)
    url = reverse("emailconfig:apply", args=["billing", "qa"])
    page = editor_client.get(url, {"version": v1.pk}).content.decode()
    assert "Apply QA mail v1?" in page
    assert "will be <strong>pinned</strong> to it" in page

    response = editor_client.post(url, {"version": v1.pk}, follow=True)
    assert "Billing is pinned to it" in response.content.decode()
    applied = AppliedConfiguration.objects.get(app=app, stage=qa)
    assert applied.pinned
    assert not AppliedConfiguration.objects.behind().exists()
    app_page = editor_client.get(reverse("emailconfig:app_detail", args=["billing"]))
    assert "pinned: v2 available" in app_page.content.decode()
    assert "behind" not in app_page.content.decode()

    editor_client.post(url, {"version": edited.latest_version().pk})  # the newest unpins
    applied.refresh_from_db()
    assert not applied.pinned and applied.version.number == 2
    factories.edit(edited, subject_prefix="[v3] ")
    assert AppliedConfiguration.objects.behind().get() == applied
