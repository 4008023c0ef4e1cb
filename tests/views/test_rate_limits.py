"""Editors set the API rate limit per app and stage on the app page."""

import pytest
from django.test import override_settings
from django.urls import reverse

from emailconfig.models import AppliedConfiguration
from emailconfig.services import configurations
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def applied():
    config = factories.configuration("qa", name="QA mail")
    app = factories.app("Billing")
    configurations.apply_version(app, factories.stage("qa"), config.latest_version(), by=None)
    return AppliedConfiguration.objects.get()


def _url(stage: str = "qa") -> str:
    return reverse("emailconfig:rate_limit", args=["billing", stage])


@override_settings(STAGEMAIL_API_RATE_LIMIT=600)
def test_the_app_page_offers_the_limit_with_the_default_shown(editor_client, applied):
    page = editor_client.get(reverse("emailconfig:app_detail", args=["billing"])).content.decode()
    assert f'action="{_url()}"' in page
    assert 'name="rate_limit_per_minute"' in page
    assert "Blank uses the default: 600 a minute" in page


def test_an_editor_sets_the_limit_and_keeps_when_it_was_applied(editor_client, applied):
    response = editor_client.post(_url(), {"rate_limit_per_minute": "120"}, follow=True)
    assert "The API now accepts up to 120 messages a minute from Billing on QA." in (
        response.content.decode()
    )
    refreshed = AppliedConfiguration.objects.get()
    assert refreshed.rate_limit_per_minute == 120
    assert refreshed.applied_at == applied.applied_at  # a limit is not a new application
    assert 'value="120"' in response.content.decode()


@override_settings(STAGEMAIL_API_RATE_LIMIT=600)
def test_a_blank_limit_goes_back_to_the_default(editor_client, applied):
    AppliedConfiguration.objects.update(rate_limit_per_minute=5)
    response = editor_client.post(_url(), {"rate_limit_per_minute": ""}, follow=True)
    assert AppliedConfiguration.objects.get().rate_limit_per_minute is None
    assert "Billing on QA uses the default limit again: 600 messages a minute." in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("0", "At least 1 message a minute; leave it blank to use the default."),
        ("-5", "At least 1 message a minute; leave it blank to use the default."),
        ("100001", "At most 100,000 messages a minute."),
        ("lots", "Enter a whole number of messages a minute."),
    ],
)
def test_a_bad_limit_is_refused_on_its_field(editor_client, applied, value, error):
    response = editor_client.post(_url(), {"rate_limit_per_minute": value})
    assert response.status_code == 200
    assert response.context["rate_limit_form"].errors["rate_limit_per_minute"] == [error]
    page = response.content.decode()
    assert error in page and 'aria-invalid="true"' in page
    assert AppliedConfiguration.objects.get().rate_limit_per_minute is None


def test_a_stage_with_nothing_applied_has_no_limit_to_set(editor_client, applied):
    response = editor_client.post(_url("development"), {"rate_limit_per_minute": "5"})
    assert response.status_code == 404


def test_a_viewer_sees_the_limit_but_cannot_set_it(viewer_client, applied):
    AppliedConfiguration.objects.update(rate_limit_per_minute=42)
    page = viewer_client.get(reverse("emailconfig:app_detail", args=["billing"])).content.decode()
    assert "42 messages a minute" in page and _url() not in page
    assert viewer_client.post(_url(), {"rate_limit_per_minute": "1"}).status_code == 403
    assert AppliedConfiguration.objects.get().rate_limit_per_minute == 42
