import pytest
from django.urls import reverse

from emailconfig.models import App, AppliedConfiguration
from tests import factories

pytestmark = pytest.mark.django_db


def test_an_editor_registers_an_app_with_a_derived_slug(editor_client):
    response = editor_client.post(
        reverse("emailconfig:app_create"), {"name": "Customer Portal", "description": "Web"}
    )
    assert response.status_code == 302
    assert App.objects.get().slug == "customer-portal"


def test_a_taken_name_or_slug_is_refused_on_its_field(editor_client):
    factories.app("Billing")
    response = editor_client.post(reverse("emailconfig:app_create"), {"name": "Billing"})
    errors = response.context["form"].errors
    assert errors["name"] == ["App with this Name already exists."]
    assert errors["slug"] == ["The slug “billing” is already used."]


def test_the_app_page_offers_only_the_configuration_covering_each_stage(
    viewer_client, editor_client
):
    factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    page = editor_client.get(reverse("emailconfig:app_detail", args=["billing"])).content.decode()
    assert "Apply QA mail v1" in page
    assert page.count("No configuration covers this stage") == 2


def test_applying_asks_for_confirmation_then_applies(editor_client, editor):
    config = factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    url = reverse("emailconfig:apply", args=["billing", "qa"])

    confirm = editor_client.get(url).content.decode()
    assert "Apply QA mail v1?" in confirm
    assert not AppliedConfiguration.objects.exists()

    response = editor_client.post(url, {"version": config.latest_version().pk}, follow=True)
    applied = AppliedConfiguration.objects.get()
    assert (applied.version.number, applied.applied_by) == (1, editor)
    assert "Applied QA mail v1 to Billing on QA." in response.content.decode()


def test_an_app_behind_shows_the_badge_and_re_applies(editor_client, admin_user):
    config = factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    url = reverse("emailconfig:apply", args=["billing", "qa"])
    editor_client.post(url, {"version": config.latest_version().pk})
    v2 = factories.edit(config, smtp_port=2525)

    page = editor_client.get(reverse("emailconfig:app_detail", args=["billing"])).content.decode()
    assert "behind: v2 available" in page
    confirm = editor_client.get(url).content.decode()
    assert "Re-apply QA mail v2?" in confirm
    assert "1025" in confirm and "2525" in confirm  # what changes

    editor_client.post(url, {"version": v2.pk})
    page = editor_client.get(reverse("emailconfig:app_detail", args=["billing"])).content.decode()
    assert "behind" not in page
    assert AppliedConfiguration.objects.get().version == v2


def test_a_forged_post_for_an_uncovered_stage_is_refused(editor_client):
    config = factories.configuration("development")
    factories.app("Billing")
    response = editor_client.post(
        reverse("emailconfig:apply", args=["billing", "qa"]),
        {"version": config.latest_version().pk},
        follow=True,
    )
    assert "does not cover QA" in response.content.decode()
    assert not AppliedConfiguration.objects.exists()


def test_applying_without_a_covering_configuration_explains_why(editor_client):
    factories.app("Billing")
    response = editor_client.get(
        reverse("emailconfig:apply", args=["billing", "production"]), follow=True
    )
    assert "No configuration covers Production; create one first." in response.content.decode()
