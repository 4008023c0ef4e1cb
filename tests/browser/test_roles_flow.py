"""Granting roles in the browser: an administrator gives a teammate QA, who then sees QA only."""

from __future__ import annotations

from playwright.sync_api import expect

from emailconfig.models import AuditEntry, StageGrant
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_administrator_grants_a_role_and_the_teammate_sees_that_stage_only(
    page, admin_user, django_user_model, screenshot
):
    admin_user.set_password("admin-pw")
    admin_user.save()
    factories.configuration("qa", name="QA mail")
    factories.configuration("production", name="Live mail")
    django_user_model.objects.create_user(
        "vera", "vera@example.com", "vera-pw", first_name="Vera", last_name="Lin"
    )
    sign_in(page, "admin", "admin-pw")
    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Roles of vera").click()

    expect(page.get_by_label("Production")).to_contain_text("Production editor")
    page.get_by_label("QA").select_option(label="Editor")
    page.get_by_label("Production").select_option(label="Viewer")
    screenshot(page, "person-roles")
    page.get_by_role("button", name="Save roles").click()

    expect(page.get_by_text("Saved the roles of vera.")).to_be_visible()
    row = page.get_by_role("row", name="vera")
    expect(row).to_contain_text("Editor")
    expect(row).to_contain_text("Viewer")
    screenshot(page, "people")
    assert set(StageGrant.objects.values_list("stage__slug", "role")) == {
        ("qa", "editor"),
        ("production", "viewer"),
    }
    assert AuditEntry.objects.filter(action="role_granted", target="vera").count() == 2

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "vera", "vera-pw")
    page.get_by_role("link", name="Email configurations").click()
    expect(page.get_by_role("link", name="QA mail")).to_be_visible()
    page.get_by_role("link", name="Live mail").click()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)  # production: reads only
    page.go_back()
    page.get_by_role("link", name="QA mail").click()
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.get_by_role("link", name="People")).to_have_count(0)
