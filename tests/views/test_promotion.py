"""Promotion: Development's configuration carried up to QA, field by field, secrets only on
purpose; to a stage without a configuration, a new one; to production, confirmed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emailconfig.forms.configurations import ConfigurationForm, form_data
from emailconfig.models import AuditAction, AuditEntry, EmailConfiguration, StageRole
from tests import factories

pytestmark = pytest.mark.django_db


def _url(config) -> str:
    return reverse("emailconfig:promote", args=[config.pk])


@pytest.fixture
def dev_and_qa():
    dev = factories.configuration(
        "development",
        name="Dev mail",
        smtp_host="dev-relay.example.com",
        smtp_port=2525,
        smtp_security="starttls",
        smtp_requires_auth=True,
        smtp_username="dev",
        smtp_password="dev-secret",
        subject_prefix="[DEV]",
    )
    qa = factories.configuration(
        "qa",
        name="QA mail",
        smtp_host="qa-relay.example.com",
        smtp_port=587,
        smtp_security="starttls",
        smtp_requires_auth=True,
        smtp_username="qa",
        smtp_password="qa-secret",
        subject_prefix="[QA]",
    )
    return dev, qa


def test_the_form_data_of_a_configuration_saves_as_no_change(dev_and_qa):
    dev, _ = dev_and_qa
    data = form_data(
        dev.latest_version(),
        name=dev.name,
        stages=[factories.stage("development")],
        test_recipients=[],
    )
    data["based_on"] = "1"
    form = ConfigurationForm(data, instance=dev)
    assert form.is_valid(), form.errors
    assert form.save_version(author=None) is None  # nothing changed


def test_the_page_shows_both_side_by_side_with_secrets_unticked(editor_client, dev_and_qa):
    dev, _ = dev_and_qa
    detail = editor_client.get(reverse("emailconfig:configuration_detail", args=[dev.pk]))
    assert "Promote to QA" in detail.content.decode()
    page = editor_client.get(_url(dev)).content.decode()
    assert "dev-relay.example.com" in page and "qa-relay.example.com" in page
    assert 'name="carry_smtp_host" id="id_carry_smtp_host" checked' in page
    assert 'name="carry_smtp_password" id="id_carry_smtp_password">' in page  # not ticked
    assert "dev-secret" not in page and "qa-secret" not in page


def test_carrying_chosen_fields_records_a_new_qa_version_and_keeps_qas_secret(
    editor_client, dev_and_qa
):
    dev, qa = dev_and_qa
    response = editor_client.post(
        _url(dev), {"based_on": "1", "carry_subject_prefix": "on", "carry_smtp_username": "on"}
    )
    assert response.status_code == 302
    v2 = qa.latest_version()
    assert v2.number == 2
    assert (v2.options["host"], v2.options["username"], v2.subject_prefix) == (
        "qa-relay.example.com",
        "dev",
        "[DEV]",
    )
    assert v2.secrets["password"].reveal() == "qa-secret"  # not carried: QA's own, kept
    assert v2.stage_names == ["QA"]
    assert dev.versions.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.CONFIGURATION_EDITED).exists()


def test_carrying_the_server_without_its_secret_is_refused_as_an_edit_would_be(
    editor_client, dev_and_qa
):
    dev, qa = dev_and_qa
    response = editor_client.post(_url(dev), {"based_on": "1", "carry_smtp_host": "on"})
    page = response.content.decode()
    assert "Nothing was promoted" in page
    assert "a stored secret is only sent to the server it was entered for" in page
    assert qa.versions.count() == 1


def test_a_secret_is_carried_when_ticked_or_typed_anew(editor_client, dev_and_qa):
    dev, qa = dev_and_qa
    carried = {f"carry_{n}": "on" for n in ("smtp_host", "smtp_port", "smtp_password")}
    editor_client.post(_url(dev), {"based_on": "1", **carried})
    assert qa.latest_version().secrets["password"].reveal() == "dev-secret"  # with its server
    editor_client.post(_url(dev), {"based_on": "2", "new_smtp_password": "typed-anew"})
    assert qa.latest_version().secrets["password"].reveal() == "typed-anew"


def test_a_stage_without_a_configuration_gets_a_new_one(editor_client):
    dev = factories.configuration("development", name="Dev mail", smtp_host="relay.example.com")
    response = editor_client.post(
        _url(dev),
        {f"carry_{n}": "on" for n in ("smtp_host", "smtp_port", "smtp_security", "from_email")},
    )
    assert response.status_code == 302
    created = EmailConfiguration.objects.get(name="Dev mail (QA)")
    assert created.latest_version().options["host"] == "relay.example.com"
    assert [c.stage.slug for c in created.coverages.all()] == ["qa"]


def test_a_refused_result_says_why_and_saves_nothing(editor_client, dev_and_qa):
    dev, qa = dev_and_qa
    response = editor_client.post(_url(dev), {"based_on": "0", "carry_subject_prefix": "on"})
    assert "Someone else saved version 1" in response.content.decode()
    assert qa.versions.count() == 1


def test_promoting_to_production_asks_for_its_name(editor_client):
    qa = factories.configuration("qa", name="QA mail", smtp_host="relay.example.com")
    live = factories.configuration("production", name="Live mail")
    data = {"based_on": "1", "carry_smtp_host": "on"}
    page = editor_client.post(reverse("emailconfig:promote", args=[qa.pk]), data)
    assert "This touches production" in page.content.decode()
    assert live.versions.count() == 1
    data["confirm_stage"] = "Production"
    assert editor_client.post(reverse("emailconfig:promote", args=[qa.pk]), data).status_code == 302
    assert live.latest_version().options["host"] == "relay.example.com"


def test_only_editors_of_the_next_stage_may_promote(django_user_model, client, dev_and_qa):
    dev, qa = dev_and_qa
    dev_editor = django_user_model.objects.create_user("dev-editor")
    factories.grant(dev_editor, StageRole.EDITOR, "development")
    factories.grant(dev_editor, StageRole.VIEWER, "qa")
    client.force_login(dev_editor)
    detail = client.get(reverse("emailconfig:configuration_detail", args=[dev.pk]))
    assert "Promote to QA" not in detail.content.decode()
    assert client.post(_url(dev), {"carry_smtp_host": "on"}).status_code == 403
    assert qa.versions.count() == 1


def test_the_last_stage_has_nowhere_to_go(editor_client):
    live = factories.configuration("production", name="Live mail")
    assert editor_client.get(_url(live)).status_code == 404


def test_a_viewer_of_development_cannot_send_its_password_to_qas_server(
    django_user_model, client, dev_and_qa
):
    dev, qa = dev_and_qa
    person = django_user_model.objects.create_user("qa-editor")
    factories.grant(person, StageRole.VIEWER, "development")
    factories.grant(person, StageRole.EDITOR, "qa")
    client.force_login(person)
    url = reverse("emailconfig:promote", args=[dev.pk])
    page = client.post(url, {"based_on": "1", "carry_smtp_password": "on"}).content.decode()
    assert "Nothing was promoted" in page
    assert "a stored secret is only sent to the server it was entered for" in page
    assert qa.versions.count() == 1
    assert qa.latest_version().secrets["password"].reveal() == "qa-secret"


def test_a_password_carried_with_its_server_is_promoted(editor_client, dev_and_qa):
    dev, qa = dev_and_qa
    carried = {f"carry_{n}": "on" for n in ("smtp_host", "smtp_port", "smtp_password")}
    url = reverse("emailconfig:promote", args=[dev.pk])
    assert editor_client.post(url, {"based_on": "1", **carried}).status_code == 302
    version = qa.latest_version()
    assert (version.options["host"], version.options["port"]) == ("dev-relay.example.com", 2525)
    assert version.secrets["password"].reveal() == "dev-secret"
