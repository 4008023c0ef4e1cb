"""Promotion in the browser: Development's settings carried up to QA, field by field."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_editor_promotes_development_to_qa(page, editor, screenshot):
    dev = factories.configuration(
        "development",
        name="Dev mail",
        smtp_host="relay.example.com",
        smtp_port=2525,
        subject_prefix="[DEV]",
    )
    qa = factories.configuration("qa", name="QA mail", smtp_host="qa.example.com")
    sign_in(page, "editor", "pw-editor")
    page.goto(reverse("emailconfig:configuration_detail", args=[dev.pk]))
    page.get_by_role("link", name="Promote to QA").click()

    expect(page.get_by_role("heading", name="Promote Dev mail to QA")).to_be_visible()
    host = page.get_by_role("row", name="Server host or IP")
    expect(host).to_contain_text("relay.example.com")
    expect(host).to_contain_text("qa.example.com")
    page.get_by_label("Carry subject prefix").uncheck()
    screenshot(page, "promotion")
    page.get_by_role("button", name="Promote to QA").click()

    expect(page.get_by_text("Promoted to QA: recorded QA mail v2.")).to_be_visible()
    version = qa.latest_version()
    assert (version.options["host"], version.options["port"], version.subject_prefix) == (
        "relay.example.com",
        2525,
        "",
    )
