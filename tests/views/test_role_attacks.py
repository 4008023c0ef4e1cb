"""Attacks on stage roles: forged values, ids of another stage's objects, and what error
messages, redirects and status codes give away. QA is granted, Production is not."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from emailconfig.delivery import Address
from emailconfig.models import (
    AppliedConfiguration,
    EmailTemplate,
    Message,
    StageRole,
    TestSend,
)
from emailconfig.services import configurations as services
from emailconfig.services import outbox, tokens
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_NAME = "Live mail"  # the Production configuration's name, which QA people must not learn


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():
    """QA mail and Live mail, each applied to Billing with a token and a failed message."""
    app = factories.app("Billing")
    made = {}
    for slug, name in (("qa", "QA mail"), ("production", SECRET_NAME)):
        config = factories.configuration(slug, name=name, smtp_port=9)
        stage = factories.stage(slug)
        services.apply_version(app, stage, config.latest_version(), by=None)
        credential, secret = tokens.issue(app, stage, by=None)
        message = outbox.accept(
            tokens.authenticate(secret),
            outbox.Submission(to=(Address("ada@example.com"),), subject=f"Via {name}", text="Hi"),
        )[0]
        Message.objects.filter(pk=message.pk).update(status="failed")
        made[slug] = {"config": config, "token": credential, "message": message}
    EmailTemplate.objects.create(key="hello", name="Hello", subject="Hi", text_body="x")
    return made


@pytest.fixture
def qa_editor(django_user_model):
    user = django_user_model.objects.create_user("qa-editor", "qa@example.com")
    factories.grant(user, StageRole.EDITOR, "qa")
    return _client(user)


@pytest.fixture
def qa_viewer(django_user_model):
    user = django_user_model.objects.create_user("qa-viewer", "qv@example.com")
    factories.grant(user, StageRole.VIEWER, "qa")
    return _client(user)


def _followed(response) -> str:
    return response.content.decode()


def test_apply_with_a_version_of_another_stage_does_not_name_it(qa_editor, world):
    """A forged version id of Production's configuration, applied on QA: refused like a
    version that does not exist, without naming Production's configuration."""
    foreign = world["production"]["config"].latest_version()
    url = reverse("emailconfig:apply", args=["billing", "qa"])
    page = _followed(qa_editor.post(url, {"version": foreign.pk}, follow=True))
    missing = _followed(qa_editor.post(url, {"version": 999_999}, follow=True))
    assert SECRET_NAME not in page
    assert "That version does not exist; nothing was applied." in page
    assert "That version does not exist; nothing was applied." in missing
    applied = AppliedConfiguration.objects.get(app__slug="billing", stage__slug="qa")
    assert applied.version.configuration == world["qa"]["config"]


def test_preview_refuses_another_stages_configuration_and_stage_without_naming_them(
    qa_editor, world
):
    template = EmailTemplate.objects.get(key="hello")
    url = reverse("emailconfig:preview")
    for forged in (
        {"configuration": world["production"]["config"].pk},
        {"stage": factories.stage("production").pk},
        {"stage": factories.stage("qa").pk, "configuration": world["production"]["config"].pk},
    ):
        for sending in ({}, {"send": "1"}):
            response = qa_editor.post(url, {"template": template.pk, **forged, **sending})
            page = response.content.decode()
            assert response.status_code == 200
            assert SECRET_NAME not in page and "Production" not in page, forged
    assert not TestSend.objects.exists()
    page = qa_editor.get(url, {"configuration": world["production"]["config"].pk}).content
    assert SECRET_NAME.encode() not in page


def test_a_qa_editor_cannot_test_send_through_a_configuration_shared_with_production(
    qa_editor, world
):
    template = EmailTemplate.objects.get(key="hello")
    live = world["production"]["config"]
    # QA mail is extended to Production by someone who may: now it is shared.
    qa = world["qa"]["config"]
    AppliedConfiguration.objects.filter(stage__slug="production").delete()
    live.coverages.all().delete()
    services.save_configuration(
        qa,
        stages=[factories.stage("qa"), factories.stage("production")],
        test_recipients=[],
        author=None,
    )
    response = qa_editor.post(
        reverse("emailconfig:preview"),
        {
            "configuration": qa.pk,
            "template": template.pk,
            "send": "1",
            "confirm_stage": "Production",
        },
    )
    assert "but not send tests through it" in response.content.decode()
    assert not TestSend.objects.exists()
    for name in ("configuration_edit", "connection_test", "try_send", "try_connection"):
        method = qa_editor.get if name == "configuration_edit" else qa_editor.post
        assert method(reverse(f"emailconfig:{name}", args=[qa.pk])).status_code == 403, name


def test_unsaved_settings_cannot_be_tried_on_production(qa_editor, world):
    data = {
        "name": "Sneaky",
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": "9",
        "smtp_security": "none",
        "from_email": "a@example.com",
        "recipients_mode": "app",
        "connect_timeout": "5",
        "send_timeout": "5",
        "stages": [factories.stage("production").pk],
        "confirm_stage": "Production",
        "recipients-TOTAL_FORMS": "0",
        "recipients-INITIAL_FORMS": "0",
    }
    for name in ("try_send", "try_connection", "configuration_create"):
        response = qa_editor.post(reverse(f"emailconfig:{name}"), data)
        assert response.status_code == 200, name
        assert "Select a valid choice" in response.content.decode(), name
    assert not TestSend.objects.exists()
    config = world["qa"]["config"]
    response = qa_editor.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]),
        {**data, "name": "QA mail"},
    )
    assert "Select a valid choice" in response.content.decode()
    assert list(config.coverages.values_list("stage__slug", flat=True)) == ["qa"]


def test_ids_of_another_stages_objects_answer_404(qa_editor, world):
    prod = world["production"]
    asked = [
        ("post", reverse("emailconfig:token_revoke", args=["billing", "qa", prod["token"].pk])),
        ("post", reverse("emailconfig:message_retry", args=[prod["message"].pk])),
        ("post", reverse("emailconfig:message_cancel", args=[prod["message"].pk])),
        ("get", reverse("emailconfig:message_eml", args=[prod["message"].pk])),
        ("get", reverse("emailconfig:configuration_detail", args=[prod["config"].pk])),
        ("post", reverse("emailconfig:rate_limit", args=["billing", "production"])),
        ("get", reverse("emailconfig:apply", args=["billing", "production"])),
        ("get", reverse("emailconfig:token_list", args=["billing", "production"])),
        ("get", reverse("emailconfig:stage_edit", args=["production"])),
    ]
    for method, url in asked:
        assert getattr(qa_editor, method)(url).status_code == 404, url
    prod["token"].refresh_from_db()
    assert prod["token"].revoked_at is None


def test_the_outbox_filter_does_not_take_another_stage(qa_viewer, world):
    page = qa_viewer.get(
        reverse("emailconfig:outbox"), {"stage": factories.stage("production").pk}
    ).content.decode()
    assert "Via Live mail" not in page and "Production" not in page
    page = qa_viewer.get(reverse("emailconfig:outbox"), {"app": "billing"}).content.decode()
    assert "Via Live mail" not in page and "Via QA mail" in page


def test_a_viewer_changes_nothing_on_their_stage(qa_viewer, world):
    qa = world["qa"]
    asked = [
        reverse("emailconfig:token_revoke", args=["billing", "qa", qa["token"].pk]),
        reverse("emailconfig:token_issue", args=["billing", "qa"]),
        reverse("emailconfig:message_retry", args=[qa["message"].pk]),
        reverse("emailconfig:rate_limit", args=["billing", "qa"]),
        reverse("emailconfig:apply", args=["billing", "qa"]),
        reverse("emailconfig:connection_test", args=[qa["config"].pk]),
        reverse("emailconfig:app_create"),
    ]
    for url in asked:
        assert qa_viewer.post(url, {"version": qa["config"].latest_version().pk}).status_code == 403
    qa["token"].refresh_from_db()
    assert qa["token"].revoked_at is None


def test_a_stage_marked_production_later_is_read_only_for_its_editors(qa_editor, world):
    qa = factories.stage("qa")
    qa.is_production = True
    qa.save()
    config = world["qa"]["config"]
    assert (
        qa_editor.get(reverse("emailconfig:configuration_edit", args=[config.pk])).status_code
        == 403
    )
    response = qa_editor.post(
        reverse("emailconfig:apply", args=["billing", "qa"]),
        {"version": config.latest_version().pk, "confirm_stage": "QA"},
    )
    assert response.status_code == 403


def test_a_deactivated_person_is_signed_out(django_user_model, world):
    user = django_user_model.objects.create_user("gone", "g@example.com")
    factories.grant(user, StageRole.EDITOR, "qa")
    client = _client(user)
    user.is_active = False
    user.save()
    response = client.get(reverse("emailconfig:home"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_last_administrator_cannot_unmake_themselves_in_djangos_admin(admin_user):
    """People refuses it (services/roles.py); Django's user admin must too, for unticking
    either "superuser" or "active"."""
    client = _client(admin_user)
    url = reverse("admin:auth_user_change", args=[admin_user.pk])
    kept = {
        "username": admin_user.username,
        "email": admin_user.email,
        "is_active": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    for unticked in ("is_superuser", "is_active"):
        data = {k: v for k, v in kept.items() if k != unticked}
        response = client.post(url, data)
        admin_user.refresh_from_db()
        assert admin_user.is_superuser and admin_user.is_active, (unticked, response.status_code)
        assert "At least one active administrator must remain" in response.content.decode()


def test_the_roles_form_does_not_call_a_production_editor_of_a_stage_no_longer_production_read_only(
    admin_client, django_user_model
):
    """Unmarking production leaves its production editors able to change the stage:
    the People form must not tell the administrator they only read there."""
    person = django_user_model.objects.create_user("live-editor", "l@example.com")
    factories.grant(person, StageRole.PRODUCTION_EDITOR, "production")
    production = factories.stage("production")
    production.is_production = False
    production.save()
    page = admin_client.get(reverse("emailconfig:person_roles", args=[person.pk])).content
    assert b"may only read here now" not in page
    editor = _client(person)
    config = factories.configuration("production", name="Live mail")
    edit = editor.get(reverse("emailconfig:configuration_edit", args=[config.pk]))
    assert edit.status_code == 200  # they do edit it


def test_the_last_administrator_cannot_delete_themselves_in_djangos_admin(admin_user):
    client = _client(admin_user)
    url = reverse("admin:auth_user_delete", args=[admin_user.pk])
    response = client.post(url, {"post": "yes"})
    assert get_user_model().objects.filter(pk=admin_user.pk).exists(), response.status_code


def test_the_last_administrator_cannot_be_deleted_among_others_in_djangos_admin(
    admin_user, django_user_model
):
    other = django_user_model.objects.create_user("someone", "s@example.com")
    response = _client(admin_user).post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [admin_user.pk, other.pk], "post": "yes"},
    )
    assert get_user_model().objects.filter(pk=admin_user.pk).exists(), response.status_code


def test_only_apps_behind_counts_only_the_stages_seen(qa_viewer, world):
    """Billing is up to date on QA and behind on Production: to a QA viewer it is not behind."""
    factories.edit(world["production"]["config"], smtp_port=10)
    url = reverse("emailconfig:app_list")
    assert "Billing" in qa_viewer.get(url).content.decode()
    assert "Billing" not in qa_viewer.get(url, {"behind": "on"}).content.decode()
