"""Rollback in the browser: make an older version current, then pin an app to an older one."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from emailconfig.models import AppliedConfiguration
from emailconfig.services import configurations
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_editor_rolls_a_configuration_back_and_pins_an_app(page, editor, screenshot):
    config = factories.configuration("qa", name="QA mail", smtp_port=1025)
    factories.edit(config, smtp_port=2525, subject_prefix="[QA] ")
    app, qa = factories.app("Billing"), factories.stage("qa")
    configurations.apply_version(app, qa, config.latest_version(), by=None)
    sign_in(page, "editor", "pw-editor")

    page.goto(reverse("emailconfig:configuration_detail", args=[config.pk]))
    page.get_by_role("link", name="Make current again: version 1").click()
    expect(page.get_by_role("heading", name="Make version 1 of QA mail current?")).to_be_visible()
    changes = page.get_by_role("table")
    expect(changes).to_contain_text("2525")
    expect(changes).to_contain_text("1025")
    screenshot(page, "rollback-confirm")
    page.get_by_role("button", name="Make version 1 current").click()
    expect(page.get_by_text("Recorded version 3, equal to version 1.")).to_be_visible()
    expect(page.get_by_text("behind: v3 available")).to_be_visible()  # Billing, on v2

    page.goto(reverse("emailconfig:apply", args=["billing", "qa"]))
    page.get_by_label("Version to apply").select_option(str(config.versions.get(number=1).pk))
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("will be pinned to it")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("[QA]")  # v2's prefix goes
    screenshot(page, "apply-older-version")
    page.get_by_role("button", name="Re-apply v1").click()
    expect(page.get_by_text("Billing is pinned to it")).to_be_visible()
    expect(page.locator("#stage-qa")).to_contain_text("pinned: v3 available")
    assert AppliedConfiguration.objects.get().pinned
