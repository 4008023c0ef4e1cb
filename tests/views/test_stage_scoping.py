"""What a person with a role on QA only is shown: lists, choice lists and counts of QA alone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from emailconfig.delivery import Address
from emailconfig.models import StageRole
from emailconfig.services import configurations as services
from emailconfig.services import outbox, tokens
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def qa_editor(django_user_model) -> Client:
    user = django_user_model.objects.create_user("qa-editor", "qa@example.com")
    factories.grant(user, StageRole.EDITOR, "qa")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_stages():
    """QA mail and Live mail, each applied to Billing and with a message in the outbox."""
    app = factories.app("Billing")
    for slug, name in (("qa", "QA mail"), ("production", "Live mail")):
        config = factories.configuration(slug, name=name)
        stage = factories.stage(slug)
        services.apply_version(app, stage, config.latest_version(), by=None)
        _, secret = tokens.issue(app, stage, by=None)
        outbox.accept(
            tokens.authenticate(secret),
            outbox.Submission(to=(Address("ada@example.com"),), subject=f"Via {name}", text="Hi"),
        )


def _page(client: Client, name: str, *args: str, **query: str) -> str:
    response = client.get(reverse(f"emailconfig:{name}", args=args), query)
    assert response.status_code == 200
    return response.content.decode()


def test_lists_show_only_the_stages_granted(qa_editor, two_stages):
    for name, args in (
        ("configuration_list", ()),
        ("app_list", ()),
        ("app_detail", ("billing",)),
        ("outbox", ()),
        ("stage_list", ()),
        ("home", ()),
    ):
        page = _page(qa_editor, name, *args)
        assert "Live mail" not in page, name
        assert "Production" not in page, name
    assert "QA mail" in _page(qa_editor, "configuration_list")
    assert "Via QA mail" in _page(qa_editor, "outbox")
    assert "Via Live mail" not in _page(qa_editor, "outbox")


def test_choice_lists_offer_only_the_stages_granted(qa_editor, two_stages):
    form = _page(qa_editor, "configuration_create")
    assert "QA (taken by “QA mail”)" in form
    assert "Production" not in form and "Development" not in form
    preview = _page(qa_editor, "preview")
    assert "QA mail" in preview
    assert "Live mail" not in preview and "Production" not in preview


def test_a_stage_not_granted_cannot_be_chosen_by_a_forged_post(qa_editor, two_stages):
    production = factories.stage("production")
    response = qa_editor.post(
        reverse("emailconfig:configuration_create"),
        {"name": "Sneaky", "engine": "smtp", "stages": [production.pk]},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = qa_editor.get(reverse("emailconfig:outbox"), {"stage": production.pk})
    assert "Via Live mail" not in response.content.decode()


def test_an_editor_of_qa_may_not_change_templates_shared_with_production(qa_editor, two_stages):
    assert "New template" not in _page(qa_editor, "template_list")
    assert qa_editor.get(reverse("emailconfig:template_create")).status_code == 403


def test_someone_without_a_role_is_told_to_ask_for_one(outsider_client):
    response = outsider_client.get(reverse("emailconfig:home"))
    assert response.status_code == 403
    assert "no role on any stage yet" in response.content.decode()
