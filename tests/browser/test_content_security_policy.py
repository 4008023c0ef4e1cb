"""The Content-Security-Policy in a real browser. Every browser test already fails on a page
without the policy or on any violation (conftest.csp); here, what the policy refuses."""

from __future__ import annotations

from playwright.sync_api import expect

from emailconfig.delivery import Address
from emailconfig.services import outbox
from tests import factories
from tests.browser.conftest import BROWSER_TEST, axe_violations, sign_in
from tests.servers import smtp_server, tracking_pixel_server

pytestmark = BROWSER_TEST

INJECTED = """() => {
  const script = document.createElement("script");
  script.textContent = "document.body.dataset.ran = 'script'";
  document.body.append(script);
  document.querySelector("main").insertAdjacentHTML("beforeend",
    '<p id="injected" style="color: rgb(1, 2, 3)">injected</p>' +
    '<style>body { background-color: rgb(4, 5, 6) }</style>' +
    '<img src="/no-such-image.png" onerror="document.body.dataset.ran = \\'handler\\'">');
}"""


def _signed_in(page, admin_user) -> None:
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")


def _wait_for(csp, count: int, page) -> list[str]:
    for _ in range(50):  # the browser reports them as it goes
        if len(csp.found) >= count:
            break
        page.wait_for_timeout(100)
    return csp.take()


def test_injected_inline_script_style_and_handlers_are_refused(page, admin_user, csp):
    _signed_in(page, admin_user)
    page.evaluate(INJECTED)
    refused = _wait_for(csp, 4, page)

    assert page.locator("body").get_attribute("data-ran") is None
    expect(page.locator("#injected")).not_to_have_css("color", "rgb(1, 2, 3)")
    expect(page.locator("body")).not_to_have_css("background-color", "rgb(4, 5, 6)")
    assert sum("script-src" in line for line in refused) == 2, refused  # element, handler
    assert sum("style-src" in line for line in refused) == 2, refused  # attribute, block


def _styled_mail(pixel_port: int) -> str:
    return (
        "<style>p { color: rgb(0, 0, 128) }</style>"
        '<h1 style="color: rgb(0, 128, 0)">Hello {{ name }}</h1><p>Your invoice.</p>'
        f'<img alt="" src="http://127.0.0.1:{pixel_port}/open.gif">'
    )


def _expect_styled_and_untracked(page, csp, fetched: list[str]) -> None:
    frame = page.frame_locator("iframe.html-part")
    expect(frame.get_by_role("heading")).to_have_css("color", "rgb(0, 128, 0)")
    expect(frame.locator("p")).to_have_css("color", "rgb(0, 0, 128)")
    [refused] = _wait_for(csp, 1, page)  # the mail's own policy at work, nothing else
    assert "img-src data:" in refused and "/open.gif" in refused
    assert fetched == []


def test_a_previewed_message_keeps_its_inline_styles_and_loads_nothing_remote(
    page, admin_user, csp
):
    with tracking_pixel_server() as (pixel_port, fetched):
        factories.welcome_template(html_body=_styled_mail(pixel_port))
        config = factories.configuration("qa", name="QA mail")
        _signed_in(page, admin_user)
        page.goto(f"/preview/?configuration={config.pk}")
        page.get_by_label("Template").select_option(label="welcome")
        page.get_by_role("button", name="Preview", exact=True).click()
        _expect_styled_and_untracked(page, csp, fetched)


def test_a_sent_message_keeps_its_inline_styles_and_loads_nothing_remote(page, admin_user, csp):
    with tracking_pixel_server() as (pixel_port, fetched), smtp_server() as sink:
        config = factories.configuration("qa", smtp_port=sink.port)
        submission = outbox.Submission(
            to=(Address("ada@example.com"),),
            subject="Invoice",
            text="Your invoice.",
            html=_styled_mail(pixel_port),
        )
        message = outbox.accept(factories.api_credential(config), submission)[0]
        _signed_in(page, admin_user)
        page.goto(f"/outbox/{message.pk}/")
        _expect_styled_and_untracked(page, csp, fetched)


def test_the_admin_works_under_the_policy(page, admin_user):
    _signed_in(page, admin_user)
    page.goto("/admin/")
    expect(page.locator("#header")).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")
    page.goto("/admin/auth/user/")
    page.get_by_role("checkbox", name="Select all objects on this page for an action").check()
    expect(page.get_by_text("1 of 1 selected")).to_be_visible()  # the admin's scripts run
    page.goto("/admin/emailconfig/app/add/")
    page.get_by_label("Name").press_sequentially("Billing Portal")
    expect(page.get_by_label("Slug")).to_have_value("billing-portal")  # prepopulated by script
    page.goto("/admin/emailconfig/emailconfiguration/add/")
    page.goto(f"/admin/auth/user/{admin_user.pk}/change/")
    page.get_by_role("link", name="Reset password").or_(
        page.get_by_role("link", name="Change password")
    ).first.click()
    expect(page.locator("#content h1")).to_be_visible()


def test_a_form_sent_without_its_csrf_cookie_is_explained_on_a_portal_page(page, axe):
    page.goto("/accounts/login/")
    page.context.clear_cookies()  # as when the browser dropped them
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="This form could not be sent")).to_be_visible()
    expect(page.locator("body")).to_have_css("background-color", "rgb(245, 247, 250)")
    assert axe_violations(page, axe) == []
