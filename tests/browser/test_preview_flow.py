"""Preview a template, change its sample data, test-send to aiosmtpd, then see a clear failure."""

from __future__ import annotations

from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in
from tests.servers import free_port, smtp_server

pytestmark = BROWSER_TEST


def test_preview_then_test_send_then_a_clear_failure(page, admin_user):
    admin_user.set_password("admin-pw")
    admin_user.save()
    factories.welcome_template()
    with smtp_server() as sink:
        config = factories.configuration(
            "qa",
            name="QA mail",
            smtp_port=sink.port,
            recipients_mode="test_list",
            test_recipients=[{"email": "qa-lead@example.com", "name": "QA Lead"}],
        )
        sign_in(page, "admin", "admin-pw")
        page.get_by_role("link", name="Templates").click()
        page.locator("#main").get_by_role("link", name="Preview").click()
        page.get_by_label("Configuration").select_option(label="QA mail (QA)")
        page.get_by_role("button", name="Preview").click()
        html = page.frame_locator("iframe.html-part")
        expect(html.get_by_role("heading", name="Hello Ada")).to_be_visible()

        page.get_by_label("Sample data").fill('{"name": "Grace Hopper"}')
        page.get_by_role("button", name="Preview").click()
        expect(html.get_by_role("heading", name="Hello Grace Hopper")).to_be_visible()
        expect(page.locator("#headers")).to_contain_text("Subject: Welcome, Grace Hopper")
        expect(page.locator("#final-recipients")).to_contain_text("QA Lead <qa-lead@example.com>")

        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("Test message sent")).to_be_visible()
        expect(page.locator(".send-result")).to_contain_text("250")
        [received] = sink.handler.received
        assert received.rcpt_tos == ["qa-lead@example.com"]
        assert received.message["Subject"] == "Welcome, Grace Hopper"

    # Point the configuration at a port where nothing listens.
    page.goto(f"/configurations/{config.pk}/edit/")
    page.get_by_label("Port").fill(str(free_port()))
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved “QA mail” as version 2.")).to_be_visible()
    page.get_by_role("link", name="Preview & test-send").click()
    page.get_by_label("Template").select_option(label="welcome")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test message not sent")).to_be_visible()
    expect(page.locator(".send-result")).to_contain_text("Connection refused")

    page.get_by_role("link", name="Email configurations").click()
    page.get_by_role("link", name="QA mail").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".step.bad")).to_contain_text("Nothing accepts connections")
