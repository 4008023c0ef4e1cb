"""A received message opened in the browser: the HTML shows in its frame and runs nothing."""

from __future__ import annotations

from playwright.sync_api import expect

from emailconfig.models import SinkMessage
from tests.browser.conftest import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST

RAW = (
    b"From: Stagemail <noreply@example.com>\r\nTo: ada@example.com\r\n"
    b"Subject: Welcome\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nWelcome in text\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n"
    b'<p id="greeting">Welcome in <b>HTML</b></p>'
    b"<script>document.body.dataset.ran = 'yes'; parent.document.title = 'owned'</script>\r\n"
    b"--b--\r\n"
)


def test_the_html_part_shows_in_a_sandboxed_frame_where_scripts_do_not_run(page, admin_user):
    admin_user.set_password("admin-pw")
    admin_user.save()
    received = SinkMessage.objects.create(
        mail_from="noreply@example.com", rcpt_tos=["ada@example.com"], subject="Welcome", raw=RAW
    )
    sign_in(page, "admin", "admin-pw")
    page.goto("/sink/")
    page.get_by_role("link", name="Welcome").click()
    expect(page.locator("#text-part")).to_have_text("Welcome in text\r\n")

    frame = page.frame_locator("iframe#html-part")
    expect(frame.locator("#greeting")).to_have_text("Welcome in HTML")
    expect(frame.locator("body")).not_to_have_attribute("data-ran", "yes")
    assert page.title() != "owned"
    assert page.locator("iframe#html-part").get_attribute("sandbox") == ""

    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete this message").click()
    expect(page.locator(".messages")).to_contain_text("Deleted “Welcome”.")
    assert not SinkMessage.objects.filter(pk=received.pk).exists()
