"""API tokens in the browser: an editor issues an administrator token, copies it, revokes it."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from emailconfig.models import AdminToken
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_editor_issues_an_admin_token_and_revokes_it(page, editor, screenshot):
    sign_in(page, "editor", "pw-editor")
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("deploy script")
    page.get_by_label("Read and write").check()
    page.get_by_label("QA").check()
    page.get_by_label("Production").check()
    page.get_by_role("button", name="Issue a token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("sma_")
    screenshot(page, "api-tokens")

    api = Client(headers={"Authorization": f"Bearer {token}"})
    stages = api.get("/api/v1/admin/stages").json()
    assert [s["slug"] for s in stages] == ["qa", "production"]

    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)  # shown once
    credential = AdminToken.objects.get()
    page.get_by_role("button", name=f"Revoke {credential.prefix}… (deploy script)").click()
    expect(page.get_by_text(f"Revoked token {credential.prefix}…")).to_be_visible()
    assert api.get(reverse("api-v1:admin_stages")).status_code == 401
