"""Applying to production in the browser: the warning, a wrong name refused, the right one."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from emailconfig.models import AppliedConfiguration
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_applying_to_production_asks_for_the_stage_name(page, editor):
    factories.configuration("production", name="Live mail")
    factories.app("Billing")
    sign_in(page, "editor", "pw-editor")
    page.goto(reverse("emailconfig:app_detail", args=["billing"]))
    page.get_by_role("link", name="Apply Live mail v1").click()

    warning = page.get_by_role("alert").filter(has_text="Production stage: Production")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Type the stage's name, Production, to confirm.")

    page.get_by_label("Type the production stage's name to confirm").fill("production")
    page.get_by_role("button", name="Apply v1").click()
    expect(page.locator("#id_confirm_stage_error")).to_have_text(
        "“production” is not the production stage's name: type “Production” exactly, "
        "capitals included."
    )
    expect(page.get_by_label("Type the production stage's name to confirm")).to_have_value(
        "production"
    )
    assert not AppliedConfiguration.objects.exists()

    page.get_by_label("Type the production stage's name to confirm").fill("Production")
    page.get_by_role("button", name="Apply v1").click()
    expect(page.get_by_text("Applied Live mail v1 to Billing on Production.")).to_be_visible()
    assert AppliedConfiguration.objects.get().stage.slug == "production"
