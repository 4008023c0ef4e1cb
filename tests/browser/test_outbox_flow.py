"""Messages through the API and the worker, then the dashboard, the outbox and a retry."""

from __future__ import annotations

from pathlib import Path

from django.test import Client
from playwright.sync_api import expect

from emailconfig.services import configurations, tokens
from emailconfig.worker import Worker
from tests import factories
from tests.browser.conftest import BROWSER_TEST, sign_in
from tests.servers import smtp_server

pytestmark = BROWSER_TEST


def submit(token: str, subject: str) -> None:
    client = Client(headers={"Authorization": f"Bearer {token}"})
    response = client.post(
        "/api/v1/messages",
        {"to": [{"email": "ada@example.com", "name": "Ada"}], "subject": subject, "text": "Hi"},
        content_type="application/json",
    )
    assert response.status_code == 202


def test_the_dashboard_and_the_outbox_follow_deliveries(page, admin_user):
    admin_user.set_password("admin-pw")
    admin_user.save()
    with smtp_server() as sink:
        config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
        app = factories.app("Billing")
        qa = factories.stage("qa")
        configurations.apply_version(app, qa, config.latest_version(), by=admin_user)
        _, token = tokens.issue(app, qa, by=admin_user)
        submit(token, "Invoice 1")
        submit(token, "Invoice 2")
        Worker().run_once()
        sink.handler.data_answer = "554 5.7.1 Rejected by policy"
        submit(token, "Invoice 3")
        Worker().run_once()
        submit(token, "Invoice 4")  # waits in the queue

        sign_in(page, "admin", "admin-pw")
        qa_card = page.locator(".stage-card", has=page.get_by_role("heading", name="QA"))
        expect(qa_card.locator("dl.figures")).to_contain_text("Sent, 14 days2")
        expect(qa_card.locator("dl.figures")).to_contain_text("Failed1")
        expect(qa_card.locator("dl.figures")).to_contain_text("In the queue1")

        page.get_by_role("link", name="Outbox", exact=True).click()
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_role("row")).to_have_count(2)  # header and Invoice 3
        page.get_by_role("row", name="Invoice 3").get_by_role("link").click()
        expect(page.locator(".answer").first).to_contain_text("554 5.7.1 Rejected by policy")
        expect(page.locator("#final-recipients")).to_contain_text("ada@example.com")

        sink.handler.data_answer = "250 OK"
        page.get_by_role("button", name="Retry now").click()
        expect(page.get_by_text("Queued again; a worker will send it shortly.")).to_be_visible()
        Worker().run_once()
        page.reload()
        expect(page.locator("h1 .badge")).to_have_text("Sent")
        expect(page.locator("#headers")).to_contain_text("Subject: Invoice 3")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the .eml").click()
        raw = Path(download.value.path()).read_bytes()
        assert raw == sink.handler.received[-1].content  # the bytes the retry delivered
