"""The configuration form in the browser: warnings before saving, trying unsaved values."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

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
        "Saving removes the stored username and password: "
        "this configuration will no longer authenticate."
    )
    page.get_by_label("Requires authentication").check()
    expect(warning).to_be_hidden()

    page.get_by_label("Requires authentication").uncheck()
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("The stored username and password were removed")).to_be_visible()
