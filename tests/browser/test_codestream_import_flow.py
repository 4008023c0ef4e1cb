"""Importing CodeStream's config in the browser: upload, read the plan, create."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from emailconfig.models import EmailConfiguration
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codestream"


def test_an_editor_imports_codestreams_gmail_settings(page, editor, screenshot):
    sign_in(page, "editor", "pw-editor")
    page.get_by_role("link", name="Email configurations").click()
    page.get_by_role("link", name="Import from CodeStream").click()
    page.get_by_label("CodeStream config file").set_input_files(FIXTURES / "nodemailer-gmail.json")
    page.get_by_label("Stage").select_option(label="QA")
    page.get_by_role("button", name="Show what it creates").click()

    expect(page.get_by_role("heading", name="Create CodeStream (QA)?")).to_be_visible()
    expect(page.get_by_text("smtp.gmail.com")).to_be_visible()
    expect(page.get_by_text("(secret, stored encrypted)")).to_be_visible()
    expect(page.get_by_text("gmail-app-password")).to_have_count(0)
    screenshot(page, "codestream-import")
    page.get_by_role("button", name="Create configuration").click()

    expect(page.get_by_text("Imported CodeStream (QA) v1 for QA.")).to_be_visible()
    assert EmailConfiguration.objects.get().latest_version().options["host"] == "smtp.gmail.com"
