"""A new admin's whole first session, and a viewer who cannot change anything."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from emailconfig.models import AppliedConfiguration, EmailConfiguration
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def _create_configuration(page) -> None:
    page.get_by_role("link", name="Email configurations").click()
    page.get_by_role("link", name="Create the first configuration").click()
    page.get_by_label("Name", exact=True).fill("Team mail")
    page.get_by_label("Development").check()
    page.get_by_label("QA").check()
    page.get_by_label("Preset").select_option(label="Gmail / Google Workspace (app password)")
    expect(page.get_by_label("Server host or IP")).to_have_value("smtp.gmail.com")
    expect(page.get_by_label("Port")).to_have_value("587")
    expect(page.get_by_label("Requires authentication")).to_be_checked()
    page.get_by_label("Username").fill("mailer@example.com")
    page.get_by_label("Password").fill("app-password-123")
    page.get_by_label("From address").fill("noreply@example.com")
    page.get_by_label("Display name").fill("Example Team")
    page.get_by_label("Test list").check()
    rows = page.locator("#recipient-rows tr:not([hidden])")
    rows.nth(0).get_by_label("Test recipient address").fill("qa-lead@example.com")
    rows.nth(0).get_by_label("Test recipient name").fill("QA Lead")
    page.get_by_role("button", name="Add a recipient").click()
    rows.nth(1).get_by_label("Test recipient address").fill("tester@example.com")
    rows.nth(1).get_by_label("Test recipient name").fill("Tester")


def test_a_new_admin_walks_the_whole_flow(page, admin_user, screenshot):
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")

    _create_configuration(page)
    page.get_by_role("button", name="Create configuration").click()
    expect(page.get_by_text("Saved “Team mail” as version 1.")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("app-password-123")

    page.get_by_role("link", name="Email configurations").click()
    row = page.get_by_role("row", name=re.compile("Team mail"))
    expect(row).to_contain_text("smtp.gmail.com:587")
    expect(row).to_contain_text("Test list")
    expect(row).to_contain_text("v1")

    # A second configuration for QA is refused on the stage field.
    page.get_by_role("link", name="New configuration").click()
    expect(page.get_by_label("QA (taken by “Team mail”)")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Second")
    page.get_by_label("QA (taken by “Team mail”)").check()
    page.get_by_label("Server host or IP").fill("127.0.0.1")
    page.get_by_label("From address").fill("noreply@example.com")
    page.get_by_role("button", name="Create configuration").click()
    expect(page.get_by_text("QA is already covered by “Team mail”.", exact=True)).to_be_visible()
    assert EmailConfiguration.objects.count() == 1

    # Register an app and apply the configuration on QA.
    page.get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Register the first app").click()
    page.get_by_label("Name").fill("Billing")
    page.get_by_label("Description").fill("Invoices and receipts")
    page.get_by_role("button", name="Register app").click()
    qa_row = page.locator("#stage-qa")
    qa_row.get_by_role("link", name="Apply Team mail v1").click()
    expect(page.get_by_role("heading", name="Apply Team mail v1?")).to_be_visible()
    page.get_by_role("button", name="Apply v1").click()
    expect(page.get_by_text("Applied Team mail v1 to Billing on QA.")).to_be_visible()
    expect(qa_row.get_by_text("current")).to_be_visible()

    # Edit the configuration: a new version, and the app is behind.
    qa_row.get_by_role("link", name="Team mail", exact=True).click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Port").fill("465")
    page.get_by_label("Security").select_option("tls")
    page.get_by_role("button", name="Save as new version").click()
    # A stored password only goes to the server it was entered for: type it again.
    expect(page.get_by_role("link", name="Password: The server changed")).to_be_visible()
    page.get_by_label("Password").fill("app-password-123")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved “Team mail” as version 2.")).to_be_visible()
    expect(page.get_by_text("Changes from v1 to v2")).to_be_visible()

    page.get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Billing").click()
    expect(qa_row.get_by_text("behind: v2 available")).to_be_visible()
    qa_row.get_by_role("link", name="Re-apply v2").click()
    expect(page.get_by_role("cell", name="465")).to_be_visible()
    page.get_by_role("button", name="Re-apply v2").click()
    expect(page.get_by_text("Re-applied Team mail v2 to Billing on QA.")).to_be_visible()
    expect(qa_row.get_by_text("current")).to_be_visible()
    assert AppliedConfiguration.objects.get().version.number == 2

    page.get_by_role("link", name="Email configurations").click()
    screenshot(page, "configuration-list")


def test_a_viewer_reads_but_cannot_change(page, django_user_model):
    from tests import factories

    config = factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    viewer = django_user_model.objects.create_user("viewer", password="viewer-pw")
    factories.grant(viewer, "viewer")
    sign_in(page, "viewer", "viewer-pw")

    page.get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Billing").click()
    expect(page.locator("#stage-qa")).to_contain_text("Nothing applied")
    expect(page.get_by_role("link", name=re.compile("^Apply"))).to_have_count(0)
    expect(page.get_by_role("link", name="Edit app")).to_have_count(0)

    # A direct POST with a valid CSRF token is still refused.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        "/apps/billing/stages/qa/apply/",
        form={"version": str(config.latest_version().pk)},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    assert not AppliedConfiguration.objects.exists()
    page.goto("/configurations/new/")
    expect(page.get_by_role("heading", name="You do not have permission for this")).to_be_visible()


def test_the_pages_fit_a_narrow_window(page, admin_user):
    admin_user.set_password("admin-pw")
    admin_user.save()
    page.set_viewport_size({"width": 400, "height": 800})
    sign_in(page, "admin", "admin-pw")
    for path in ("/", "/configurations/", "/configurations/new/", "/apps/", "/stages/"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
