"""The audit trail in a browser: an action shows up with its address, filtered and exported."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def test_an_action_shows_in_the_trail_and_in_its_export(page, admin_user):
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")
    page.get_by_role("link", name="Stages").click()
    page.get_by_role("button", name="Move QA up").click()

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Action").select_option(label="Stage moved")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row", name="Stage moved")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("admin")
    expect(row).to_contain_text("127.0.0.1")
    expect(row).to_contain_text("To: up")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export these entries as CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r[1], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("admin", "127.0.0.1", "Stage moved", "QA")
    ]
