"""Sign-in protection in the browser: the lockout page, setting up the app, the code step."""

from __future__ import annotations

from axes.models import AccessFailureLog
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_TEST, axe_violations, sign_in
from tests.factories import authenticator_code

pytestmark = BROWSER_TEST


def _try(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_eleven_wrong_passwords_then_the_right_one_are_refused_with_a_clear_message(
    page, editor, axe
):
    page.goto(reverse("login"))
    for _ in range(11):
        _try(page, "editor", "wrong")
        if page.get_by_role("heading", name="Sign-in refused for now").is_visible():
            page.get_by_role("link", name="Back to sign-in").click()
    _try(page, "editor", "pw-editor")

    expect(page.get_by_role("heading", name="Sign-in refused for now")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("even with the right password")
    assert axe_violations(page, axe) == []
    page.goto(reverse("emailconfig:home"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert AccessFailureLog.objects.filter(username="editor").count() == 12


def test_an_admin_sets_up_the_app_then_gives_a_code_at_each_sign_in(
    page, admin_user, settings, axe
):
    settings.STAGEMAIL_REQUIRE_MFA = True
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    loaded_width = (  # once it has loaded: a busy machine serves it after the page
        "image => image.complete ? image.naturalWidth"
        " : new Promise(done => { image.onload = () => done(image.naturalWidth); })"
    )
    assert qr.evaluate(loaded_width) > 0
    assert axe_violations(page, axe) == []

    page.goto(reverse("emailconfig:outbox"))  # nowhere else until the app is set up
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    device = TOTPDevice.objects.get(user=admin_user)
    page.get_by_label("Code from your authenticator app").fill(authenticator_code(device))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_text("Your authenticator app is set up")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "admin", "admin-pw")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert axe_violations(page, axe) == []
    page.get_by_label("Code from your authenticator app").fill("123")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".errorlist")).to_contain_text("Enter the 6 digits")
    assert axe_violations(page, axe) == []
    code = authenticator_code(device, steps_ahead=1)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")


def test_a_user_changes_their_password_from_the_header(page, editor):
    sign_in(page, "editor", "pw-editor")
    page.get_by_role("link", name="Account").click()
    page.get_by_label("Old password").fill("pw-editor")
    page.get_by_label("New password", exact=True).fill("a-much-longer-passphrase-42")
    page.get_by_label("New password confirmation").fill("a-much-longer-passphrase-42")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
