"""People in the browser: an administrator adds a teammate and grants QA; the teammate signs
in with the password shown once and sees QA only."""

from __future__ import annotations

from playwright.sync_api import expect

from emailconfig.models import AuditEntry, StageGrant
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_administrator_adds_a_person_grants_a_role_and_they_see_that_stage_only(
    page, admin_user, screenshot
):
    admin_user.set_password("admin-pw")
    admin_user.save()
    factories.configuration("qa", name="QA mail")
    factories.configuration("production", name="Live mail")
    sign_in(page, "admin", "admin-pw")
    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Username").fill("vera")
    page.get_by_label("First name").fill("Vera")
    page.get_by_label("Last name").fill("Lin")
    page.get_by_label("Email address").fill("vera@example.com")
    page.get_by_role("button", name="Add person").click()

    expect(page.get_by_role("heading", name="Roles of vera")).to_be_visible()
    password = page.locator("#new-password").inner_text()
    expect(page.get_by_label("May sign in")).to_be_checked()

    expect(page.get_by_label("Production")).to_contain_text("Production editor")
    page.get_by_label("QA").select_option(label="Editor")
    page.get_by_label("Production").select_option(label="Viewer")
    screenshot(page, "person-roles")
    page.get_by_role("button", name="Save roles").click()
    expect(page.locator("#new-password")).to_have_count(0)

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
    sign_in(page, "vera", password)
    page.get_by_role("link", name="Email configurations").click()
    expect(page.get_by_role("link", name="QA mail")).to_be_visible()
    page.get_by_role("link", name="Live mail").click()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)  # production: reads only
    page.go_back()
    page.get_by_role("link", name="QA mail").click()
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.get_by_role("link", name="People")).to_have_count(0)
