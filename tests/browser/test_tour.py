"""A busy portal, page by page: sixty apps, two configurations, deliveries, test-sends and
a local sink. `make screenshots` saves what each page shows into docs/."""

from __future__ import annotations

import base64
import re

from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from emailconfig.services import configurations, tokens
from emailconfig.worker import Worker
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in
from tests.servers import smtp_server

pytestmark = BROWSER_TEST

APPS = ["Accounts", "Billing", "Checkout", "Invoices", "Newsletter", "Onboarding", "Support"]
SHOPS = [f"Shop {n:02d}" for n in range(1, 55)]  # more than a page of apps


def _send(token: str, subject: str, **fields: object) -> None:
    client = Client(headers={"Authorization": f"Bearer {token}"})
    payload = {"to": [{"email": "ada@example.com", "name": "Ada Lovelace"}], "subject": subject}
    response = client.post(
        "/api/v1/messages", {**payload, **fields}, content_type="application/json"
    )
    assert response.status_code == 202, response.content


def test_a_busy_portal_page_by_page(page, admin_user, screenshot):
    admin_user.set_password("admin-pw")
    admin_user.first_name, admin_user.last_name = "Ada", "Admin"
    admin_user.save()
    factories.welcome_template()
    with smtp_server() as server:
        team = factories.configuration(
            "development",
            "qa",
            name="Team mail",
            smtp_port=server.port,
            from_name="Example Team",
            envelope_from="bounces@example.com",
            recipients_mode="test_list",
            test_recipients=[
                {"email": "qa-lead@example.com", "name": "QA Lead"},
                {"email": "tester@example.com", "name": "Tester"},
            ],
        )
        factories.configuration("production", name="Production mail", smtp_host="smtp.example.com")
        qa, development = factories.stage("qa"), factories.stage("development")
        apps = [factories.app(name) for name in APPS + SHOPS]
        for app in apps:
            configurations.apply_version(app, qa, team.latest_version(), by=admin_user)
        for app in apps[:5]:
            configurations.apply_version(app, development, team.latest_version(), by=admin_user)
        factories.edit(team, author=admin_user, subject_prefix="[QA]")
        for app in apps[3:]:  # Accounts, Billing and Checkout stay behind on QA
            configurations.apply_version(app, qa, team.latest_version(), by=admin_user)

        billing = apps[1]
        _, token = tokens.issue(billing, qa, by=admin_user)
        pdf = base64.b64encode(b"%PDF-1.4\n% invoice 1042\n").decode()
        for number in range(1040, 1044):
            _send(
                token,
                f"Invoice {number}",
                text=f"Hello Ada,\n\ninvoice {number} is attached.\n",
                html=f"<p>Hello Ada,</p><p>invoice <b>{number}</b> is attached.</p>",
                attachments=[
                    {
                        "filename": f"invoice-{number}.pdf",
                        "content_type": "application/pdf",
                        "content": pdf,
                    }
                ],
            )
        Worker().run_once()
        server.handler.data_answer = "554 5.7.1 Rejected by policy"
        _send(token, "Password reset", text="Your code is 314159.")
        Worker().run_once()
        server.handler.data_answer = "250 OK"
        _send(token, "Receipt 77", text="Thank you.")  # waits in the queue

        sign_in(page, "admin", "admin-pw")
        expect(page.get_by_role("img", name=re.compile("per day on QA"))).to_be_visible()
        screenshot(page, "dashboard")

        page.get_by_role("link", name="Apps", exact=True).click()
        page.get_by_label("Only apps behind").check()
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#main").get_by_role("link", name="Billing")).to_be_visible()
        expect(page.locator("#main").get_by_role("link", name="Support")).to_have_count(0)
        screenshot(page, "apps")

        page.locator("#main").get_by_role("link", name="Billing").click()
        page.get_by_label("API rate limit on QA").fill("120")
        page.get_by_role("button", name="Set the rate limit on QA").click()
        expect(page.get_by_text("The API now accepts up to 120 messages a minute")).to_be_visible()
        screenshot(page, "app-page")

        page.goto(f"/configurations/{team.pk}/?page=2")
        expect(page.get_by_role("heading", name="Team mail", exact=False).first).to_be_visible()
        screenshot(page, "configuration-detail")

        page.get_by_role("link", name="Edit").first.click()
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#try-result")).to_be_visible()
        screenshot(page, "configuration-form")

        page.get_by_role("link", name="Templates").click()
        page.get_by_role("link", name="New template").click()
        page.get_by_label("Name").fill("Password reset")
        page.get_by_role("button", name="Create template").click()
        expect(page.locator(":focus")).to_contain_text("There is a problem")
        screenshot(page, "error-summary")

        page.get_by_role("link", name="Outbox", exact=True).click()
        styled = "(input) => getComputedStyle(input).padding + ' ' + getComputedStyle(input).border"
        like_text = page.get_by_label("App (slug)").evaluate(styled)
        for label in ("Search", "From", "Until"):  # search and date fields look like the rest
            assert page.get_by_label(label, exact=True).evaluate(styled) == like_text, label
        page.get_by_label("Search", exact=True).fill("Invoice")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_role("row")).to_have_count(5)  # the header and four invoices
        screenshot(page, "outbox")
        page.get_by_role("row", name=re.compile("Invoice 1042")).get_by_role("link").first.click()
        expect(page.get_by_role("link", name=re.compile(r"\.eml"))).to_be_visible()
        html = page.frame_locator("iframe.html-part")
        expect(html.get_by_text("invoice 1042 is attached")).to_be_visible()
        screenshot(page, "message")

        page.get_by_role("link", name="Preview", exact=True).click()
        page.get_by_label("Configuration").select_option(label="Team mail (Development, QA)")
        page.get_by_label("Template").select_option(label="welcome")
        page.get_by_role("button", name="Preview", exact=True).click()
        expect(page.locator("#headers")).to_contain_text("Subject: [QA] Welcome, Ada")
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("Test message sent")).to_be_visible()
        screenshot(page, "preview")

    page.get_by_role("link", name="Stages").click()
    expect(page.get_by_role("heading", name="Stages")).to_be_visible()
    screenshot(page, "stages")

    factories.received("Welcome to Example", to="grace@example.com")
    factories.received("Your password was changed", to="lin@example.com")
    factories.received("Your invoice for March")
    page.get_by_role("link", name="Local sink").click()
    expect(page.get_by_role("link", name="Your invoice for March")).to_be_visible()
    screenshot(page, "sink")
    page.get_by_role("link", name="Your invoice for March").click()
    html = page.frame_locator("iframe#html-part")
    expect(html.get_by_text("Thank you!")).to_be_visible()
    expect(page.get_by_role("link", name="invoice.pdf")).to_be_visible()
    screenshot(page, "sink-message")

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Who").fill("admin")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="Test-send", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Connection test", exact=True)).to_be_visible()
    screenshot(page, "audit")


def test_the_production_confirmation(page, admin_user, screenshot):
    admin_user.set_password("admin-pw")
    admin_user.save()
    factories.configuration("production", name="Production mail", smtp_host="smtp.example.com")
    factories.app("Billing")
    sign_in(page, "admin", "admin-pw")
    page.goto(reverse("emailconfig:app_detail", args=["billing"]))
    page.get_by_role("link", name="Apply Production mail v1").click()
    page.get_by_label("Type the production stage's name to confirm").fill("production")
    page.get_by_role("button", name="Apply v1").click()
    expect(page.locator("#id_confirm_stage_error")).to_be_visible()
    screenshot(page, "production-confirmation")


def test_sign_in_protection_page_by_page(page, admin_user, settings, screenshot):
    settings.STAGEMAIL_REQUIRE_MFA = True
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    screenshot(page, "two-factor-setup")
    device = TOTPDevice.objects.get(user=admin_user)
    page.get_by_label("Code from your authenticator app").fill(factories.authenticator_code(device))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    screenshot(page, "password-change")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "admin", "admin-pw")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    screenshot(page, "two-factor-code")

    page.get_by_role("button", name="Sign out").click()
    for _ in range(11):
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        if page.get_by_role("heading", name="Sign-in refused for now").is_visible():
            page.goto(reverse("login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign-in refused for now")).to_be_visible()
    screenshot(page, "sign-in-refused")
