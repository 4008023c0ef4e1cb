"""The configuration form in the browser: warnings before saving, trying unsaved values."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in
from tests.servers import free_port, smtp_server

pytestmark = BROWSER_TEST


def test_unticking_authentication_warns_before_saving_that_credentials_go(page, editor):
    config = factories.configuration(
        "qa",
        name="Relay",
        smtp_host="localhost",
        smtp_requires_auth=True,
        smtp_username="mailer",
        smtp_password="stored-secret",
    )
    sign_in(page, "editor", "pw-editor")
    page.goto(reverse("emailconfig:configuration_edit", args=[config.pk]))
    warning = page.locator("#credentials-warning p")
    expect(warning).to_be_hidden()

    page.get_by_label("Requires authentication").uncheck()
    expect(warning).to_be_visible()
    expect(warning).to_have_text(
        "Saving removes the stored sign-in secrets: "
        "this configuration will no longer sign in this way."
    )
    page.get_by_label("Requires authentication").check()
    expect(warning).to_be_hidden()

    page.get_by_label("Requires authentication").uncheck()
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("The stored password was removed")).to_be_visible()


def test_test_connection_on_the_edit_form_tries_the_typed_port_and_saves_nothing(page, editor):
    config = factories.configuration("qa", name="Relay", smtp_port=free_port())
    sign_in(page, "editor", "pw-editor")
    page.goto(reverse("emailconfig:configuration_edit", args=[config.pk]))
    with smtp_server() as server:
        page.get_by_label("Port").fill(str(server.port))
        page.get_by_role("button", name="Test connection").click()
        expect(page.get_by_role("status").filter(has_text="Every step succeeded")).to_have_text(
            "Every step succeeded with these unsaved settings. Nothing was sent or saved."
        )
    expect(page.get_by_label("Port")).to_have_value(str(server.port))
    assert config.versions.count() == 1

    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved “Relay” as version 2.")).to_be_visible()
    assert config.latest_version().options["port"] == server.port


def test_the_microsoft_365_preset_asks_for_the_app_registration_not_a_password(
    page, editor, screenshot
):
    sign_in(page, "editor", "pw-editor")
    page.goto(reverse("emailconfig:configuration_create"))
    page.get_by_label("Preset").select_option(label="Microsoft 365 (OAuth2)")

    expect(page.get_by_label("Server host or IP")).to_have_value("smtp.office365.com")
    expect(page.get_by_label("Microsoft 365 OAuth2 (app registration)")).to_be_checked()
    for visible in ("Tenant", "Application (client) ID", "Client secret", "Username"):
        expect(page.get_by_label(visible, exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_hidden()
    expect(page.get_by_label("Service account key (JSON)")).to_be_hidden()
    screenshot(page, "configuration-oauth2")

    page.get_by_label("Google Workspace OAuth2 (service account)").check()
    expect(page.get_by_label("Service account key (JSON)")).to_be_visible()
    expect(page.get_by_label("Tenant", exact=True)).to_be_hidden()
