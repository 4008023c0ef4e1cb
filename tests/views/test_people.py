"""The People pages: adding a person, granting roles, switching sign-in off, the last admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from emailconfig.models import AuditAction, AuditEntry, Stage, StageGrant

pytestmark = pytest.mark.django_db

PEOPLE = reverse("emailconfig:people")
ADD = reverse("emailconfig:person_add")


def _roles_url(user) -> str:
    return reverse("emailconfig:person_roles", args=[user.pk])


def _post_roles(client, user, *, active=True, administrator=False, **by_slug):
    data = {f"stage_{s.pk}": by_slug.get(s.slug, "") for s in Stage.objects.all()}
    data.update({"active": "on"} if active else {})
    data.update({"administrator": "on"} if administrator else {})
    return client.post(_roles_url(user), data)


def test_an_added_person_gets_a_password_shown_once_and_signs_in_with_it(admin_client):
    response = admin_client.post(
        ADD, {"username": "vera", "first_name": "Vera", "email": "vera@example.com"}
    )
    vera = get_user_model().objects.get(username="vera")
    assert response.url == _roles_url(vera)
    page = admin_client.get(_roles_url(vera)).content.decode()
    assert "Pass on this password now" in page
    password = page.split('<code id="new-password" class="token">')[1].split("</code>")[0]
    assert "Pass on this password now" not in admin_client.get(_roles_url(vera)).content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.PERSON_ADDED, target="vera").exists()

    client = Client()
    signed_in = client.post(reverse("login"), {"username": "vera", "password": password})
    assert signed_in.status_code == 302
    assert client.get(reverse("emailconfig:home")).status_code == 403  # no role yet


def test_a_duplicate_username_is_an_error_on_its_field(admin_client, viewer):
    response = admin_client.post(ADD, {"username": "viewer"})
    assert "A user with that username already exists." in response.content.decode()


def test_switching_sign_in_off_signs_the_person_out_and_keeps_their_roles(
    admin_client, viewer, viewer_client
):
    assert viewer_client.get(reverse("emailconfig:home")).status_code == 200
    response = _post_roles(admin_client, viewer, active=False, qa="viewer")
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert not viewer.is_active
    assert StageGrant.objects.filter(user=viewer, stage__slug="qa").exists()
    assert viewer_client.get(reverse("emailconfig:home")).status_code == 302  # to sign in
    assert AuditEntry.objects.filter(
        action=AuditAction.PERSON_DEACTIVATED, target="viewer"
    ).exists()


def test_the_last_administrator_cannot_be_removed_or_switched_off(admin_client, admin_user):
    for change in ({"administrator": False}, {"active": False, "administrator": True}):
        response = _post_roles(admin_client, admin_user, **change)
        assert response.status_code == 200
        assert "At least one active administrator must remain" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_superuser and admin_user.is_active


def test_people_pages_are_for_administrators_only(editor_client, viewer):
    assert editor_client.get(PEOPLE).status_code == 403
    assert editor_client.get(ADD).status_code == 403
    assert editor_client.post(ADD, {"username": "sneaky"}).status_code == 403
    assert _post_roles(editor_client, viewer, administrator=True).status_code == 403
    viewer.refresh_from_db()
    assert not viewer.is_superuser
    assert not get_user_model().objects.filter(username="sneaky").exists()
