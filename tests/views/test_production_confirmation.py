"""Applying, editing and test-sending through a production stage ask for the stage's name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emailconfig.models import AppliedConfiguration, EmailTemplate, Stage, StageRole, TestSend
from tests import factories
from tests.servers import free_port, smtp_server

pytestmark = pytest.mark.django_db

MISSING = "This touches production: type “Production” to confirm."
WRONG = (
    "“production” is not the production stage's name: type “Production” exactly, capitals included."
)


def _confirm_errors(response) -> list[str]:
    return response.context["form"].errors.get("confirm_stage", [])


# Applying to an app on a production stage ---------------------------------------------


def _apply(client, stage_slug, config, **extra):
    url = reverse("emailconfig:apply", args=["billing", stage_slug])
    return client.post(url, {"version": config.latest_version().pk, **extra})


def test_applying_on_production_shows_the_warning_first(editor_client):
    factories.configuration("production", name="Live mail")
    factories.app("Billing")
    page = editor_client.get(reverse("emailconfig:apply", args=["billing", "production"]))
    text = page.content.decode()
    assert 'role="alert"' in text
    assert "Type the stage's name, <strong>Production</strong>, to confirm." in text
    assert 'name="confirm_stage"' in text


def test_applying_on_production_without_the_name_applies_nothing(editor_client):
    config = factories.configuration("production", name="Live mail")
    factories.app("Billing")
    response = _apply(editor_client, "production", config)
    assert response.status_code == 200
    assert _confirm_errors(response) == [MISSING]
    assert not AppliedConfiguration.objects.exists()


def test_applying_on_production_with_a_wrong_name_applies_nothing(editor_client):
    config = factories.configuration("production", name="Live mail")
    factories.app("Billing")
    response = _apply(editor_client, "production", config, confirm_stage="production")
    assert _confirm_errors(response) == [WRONG]
    assert 'value="production"' in response.content.decode()  # the typed name is kept
    assert not AppliedConfiguration.objects.exists()


def test_applying_on_production_with_its_name_applies(editor_client):
    config = factories.configuration("production", name="Live mail")
    factories.app("Billing")
    response = _apply(editor_client, "production", config, confirm_stage="  Production ")
    assert response.status_code == 302
    assert AppliedConfiguration.objects.get().stage.slug == "production"


def test_re_applying_on_production_asks_again(editor_client):
    config = factories.configuration("production", name="Live mail")
    factories.app("Billing")
    _apply(editor_client, "production", config, confirm_stage="Production")
    factories.edit(config, from_name="Live team")
    response = _apply(editor_client, "production", config)
    assert _confirm_errors(response) == [MISSING]
    assert AppliedConfiguration.objects.get().version.number == 1


def test_applying_on_a_stage_that_is_not_production_asks_nothing(editor_client):
    config = factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    page = editor_client.get(reverse("emailconfig:apply", args=["billing", "qa"]))
    assert 'name="confirm_stage"' not in page.content.decode()
    assert _apply(editor_client, "qa", config).status_code == 302
    assert AppliedConfiguration.objects.get().stage.slug == "qa"


# Editing a configuration that covers a production stage -------------------------------


def _data(stages, **overrides):
    return {
        "name": "Live mail",
        "stages": [Stage.objects.get(slug=slug).pk for slug in stages],
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": "2525",
        "smtp_security": "none",
        "from_email": "noreply@example.com",
        "from_name": "Edited",
        "recipients_mode": "app",
        "connect_timeout": "5",
        "send_timeout": "10",
        "sendgrid_endpoint": "https://api.sendgrid.com/v3/mail/send",
        "recipients-TOTAL_FORMS": "0",
        "recipients-INITIAL_FORMS": "0",
        **overrides,
    }


def _edit(client, config, stages=("production",), **overrides):
    url = reverse("emailconfig:configuration_edit", args=[config.pk])
    return client.post(url, _data(stages, **overrides))


def test_editing_a_production_configuration_shows_the_warning_first(editor_client):
    config = factories.configuration("production", name="Live mail")
    page = editor_client.get(reverse("emailconfig:configuration_edit", args=[config.pk]))
    text = page.content.decode()
    assert "Production stage: Production" in text
    assert 'name="confirm_stage"' in text


def test_editing_a_production_configuration_without_the_name_saves_nothing(editor_client):
    config = factories.configuration("production", name="Live mail")
    response = _edit(editor_client, config)
    assert _confirm_errors(response) == [MISSING]
    assert 'value="Edited"' in response.content.decode()  # the other input is kept
    assert config.versions.count() == 1


def test_editing_a_production_configuration_with_a_wrong_name_saves_nothing(editor_client):
    config = factories.configuration("production", name="Live mail")
    response = _edit(editor_client, config, confirm_stage="production")
    assert _confirm_errors(response) == [WRONG]
    assert config.versions.count() == 1


def test_editing_a_production_configuration_with_its_name_saves(editor_client):
    config = factories.configuration("production", name="Live mail")
    response = _edit(editor_client, config, confirm_stage="Production")
    assert response.status_code == 302
    assert config.latest_version().from_name == "Edited"


def test_moving_a_configuration_off_production_asks_too(editor_client):
    config = factories.configuration("production", name="Live mail")
    response = _edit(editor_client, config, stages=("qa",))
    assert _confirm_errors(response) == [MISSING]
    assert config.latest_version().stage_names == ["Production"]


def test_adding_production_to_a_configuration_asks_too(editor_client):
    config = factories.configuration("qa", name="Live mail")
    response = _edit(editor_client, config, stages=("qa", "production"))
    assert _confirm_errors(response) == [MISSING]
    assert config.versions.count() == 1


def test_creating_a_production_configuration_asks_too(editor_client):
    url = reverse("emailconfig:configuration_create")
    response = editor_client.post(url, _data(("production",)))
    assert _confirm_errors(response) == [MISSING]
    assert (
        editor_client.post(url, _data(("production",), confirm_stage="Production")).status_code
        == 302
    )


def test_with_several_production_stages_any_of_their_names_confirms(editor, editor_client):
    Stage.objects.create(name="Production EU", slug="production-eu", order=40, is_production=True)
    factories.grant(editor, StageRole.EDITOR, "production-eu")
    config = factories.configuration("production", "production-eu", name="Live mail")
    stages = ("production", "production-eu")
    response = _edit(editor_client, config, stages=stages)
    assert _confirm_errors(response) == [
        "This touches production: type the name of one of the production stages "
        "(“Production”, “Production EU”) to confirm."
    ]
    assert "Production stages: Production, Production EU" in response.content.decode()
    assert (
        _edit(editor_client, config, stages=stages, confirm_stage="Production EU").status_code
        == 302
    )


def test_editing_a_configuration_off_production_asks_nothing(editor_client):
    config = factories.configuration("qa", name="Live mail")
    page = editor_client.get(reverse("emailconfig:configuration_edit", args=[config.pk]))
    assert 'name="confirm_stage"' not in page.content.decode()
    assert _edit(editor_client, config, stages=("qa",)).status_code == 302


def test_trying_the_connection_of_a_production_configuration_asks_nothing(editor_client):
    config = factories.configuration("production", name="Live mail")
    with smtp_server() as server:
        url = reverse("emailconfig:try_connection", args=[config.pk])
        response = editor_client.post(url, _data(("production",), smtp_port=str(server.port)))
    assert response.context["ok"] is True


def test_a_trial_send_through_a_production_configuration_asks_the_name(editor_client):
    config = factories.configuration("production", name="Live mail")
    url = reverse("emailconfig:try_send", args=[config.pk])
    with smtp_server() as server:
        data = _data(("production",), smtp_port=str(server.port))
        refused = editor_client.post(url, data)
        assert _confirm_errors(refused) == [MISSING]
        assert server.handler.received == []
        editor_client.post(url, {**data, "confirm_stage": "Production"})
    assert len(server.handler.received) == 1
    assert config.versions.count() == 1


# Test-sending through a configuration that covers a production stage ------------------


@pytest.fixture
def template():
    return EmailTemplate.objects.create(
        key="invoice", name="Invoice", subject="Invoice", text_body="Hello.", sample_data={}
    )


def _send(client, config, template, **extra):
    data = {"configuration": config.pk, "template": template.pk, "sample_data": "", **extra}
    return client.post(reverse("emailconfig:preview"), data)


def test_previewing_through_production_warns_but_asks_nothing(editor_client, template):
    config = factories.configuration("production", name="Live mail", smtp_port=free_port())
    response = _send(editor_client, config, template, preview="1")
    assert response.context["preview"] is not None
    assert _confirm_errors(response) == []
    assert "Production stage: Production" in response.content.decode()


def test_a_test_send_through_production_without_the_name_sends_nothing(editor_client, template):
    with smtp_server() as server:
        config = factories.configuration("production", name="Live mail", smtp_port=server.port)
        response = _send(editor_client, config, template, send="1", send_to="ada@example.com")
    assert _confirm_errors(response) == [MISSING]
    assert 'value="ada@example.com"' in response.content.decode()
    assert server.handler.received == []
    assert not TestSend.objects.exists()


def test_a_test_send_through_production_with_a_wrong_name_sends_nothing(editor_client, template):
    with smtp_server() as server:
        config = factories.configuration("production", name="Live mail", smtp_port=server.port)
        response = _send(editor_client, config, template, send="1", confirm_stage="production")
    assert _confirm_errors(response) == [WRONG]
    assert server.handler.received == []
    assert not TestSend.objects.exists()


def test_a_test_send_through_production_with_its_name_sends(editor_client, template):
    with smtp_server() as server:
        config = factories.configuration("production", name="Live mail", smtp_port=server.port)
        response = _send(editor_client, config, template, send="1", confirm_stage="Production")
    assert response.context["sent"].outcome == "delivered"
    assert len(server.handler.received) == 1


def test_a_test_send_chosen_by_production_stage_asks_the_name(editor_client, template):
    with smtp_server() as server:
        factories.configuration("production", name="Live mail", smtp_port=server.port)
        stage = Stage.objects.get(slug="production")
        response = editor_client.post(
            reverse("emailconfig:preview"),
            {"stage": stage.pk, "template": template.pk, "sample_data": "", "send": "1"},
        )
    assert _confirm_errors(response) == [MISSING]
    assert server.handler.received == []


def test_a_test_send_off_production_asks_nothing(editor_client, template):
    with smtp_server() as server:
        config = factories.configuration("qa", name="QA mail", smtp_port=server.port)
        response = _send(editor_client, config, template, send="1")
    assert 'name="confirm_stage"' not in response.content.decode()
    assert len(server.handler.received) == 1
