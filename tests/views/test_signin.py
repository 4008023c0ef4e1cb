"""Sign-in protection through the real sign-in page: lockout, the second step, idle sessions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from axes.models import AccessFailureLog
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from emailconfig.models import StageRole
from tests import factories
from tests.factories import authenticator_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
HOME = reverse("emailconfig:home")
VERIFY = reverse("emailconfig:two_factor_verify")
SETUP = reverse("emailconfig:two_factor_setup")


@pytest.fixture
def heard():
    """What the audit trail can listen to: every sign-in signal, in order."""
    events: list[tuple[str, str]] = []

    def failed(sender, credentials, request=None, **kwargs):
        events.append(("failed", credentials.get("username")))

    def locked(sender, request, username, ip_address, **kwargs):
        events.append(("locked", username))

    def signed_in(sender, request, user, **kwargs):
        events.append(("signed in", user.get_username()))

    user_login_failed.connect(failed)
    user_locked_out.connect(locked)
    user_logged_in.connect(signed_in)
    yield events
    user_login_failed.disconnect(failed)
    user_locked_out.disconnect(locked)
    user_logged_in.disconnect(signed_in)


def _sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _device(user, **extra) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", **extra)


def test_eleven_wrong_passwords_then_the_right_one_is_refused_with_a_clear_message(editor, heard):
    client = Client()
    for _ in range(11):
        _sign_in(client, "editor", "wrong")
    response = _sign_in(client, "editor", "pw-editor")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in refused for now" in page
    assert "even with the right password" in page
    assert "for 15 minutes" in page
    assert client.get(HOME).status_code == 302  # not signed in
    assert heard.count(("failed", "editor")) == 12  # the right password's attempt too
    assert ("locked", "editor") in heard
    assert ("signed in", "editor") not in heard
    assert AccessFailureLog.objects.filter(username="editor").count() == 12


def test_ten_failures_from_one_address_refuse_every_account_there(editor, viewer):
    client = Client()
    for number in range(10):
        _sign_in(client, f"guess-{number}", "wrong")
    assert _sign_in(client, "viewer", "pw-viewer").status_code == 429
    other_address = Client(REMOTE_ADDR="192.0.2.7")
    assert _sign_in(other_address, "editor", "pw-editor").status_code == 302


def test_nine_failures_still_let_the_right_password_in(editor):
    client = Client()
    for _ in range(9):
        assert _sign_in(client, "editor", "wrong").status_code == 200
    assert _sign_in(client, "editor", "pw-editor").status_code == 302


def test_the_lockout_ends_after_its_time(editor, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    client = Client()
    for _ in range(10):
        _sign_in(client, "editor", "wrong")
    assert _sign_in(client, "editor", "pw-editor").status_code == 429
    time.sleep(1.2)
    assert _sign_in(client, "editor", "pw-editor").status_code == 302


def test_the_first_admin_signs_in_as_before_with_mfa_off(admin_user):
    client = Client()
    assert _sign_in(client, "admin", "password").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


class TestTheSecondStep:
    def test_a_user_with_an_app_gives_a_code_before_any_page(self, editor, heard):
        device = _device(editor)
        client = Client()
        response = client.post(
            LOGIN, {"username": "editor", "password": "pw-editor", "next": "/outbox/"}
        )
        response = client.get(response.url)
        assert response.status_code == 302
        assert response.url == f"{VERIFY}?next=%2Foutbox%2F"
        assert client.get(HOME).url.startswith(VERIFY)
        assert client.get(reverse("admin:index")).url.startswith(VERIFY)

        wrong = client.post(VERIFY, {"code": "000000", "next": "/outbox/"})
        assert "That code is not right" in wrong.content.decode()
        assert heard[-1] == ("failed", "editor")
        time.sleep(1.1)  # django-otp waits a second after a wrong code
        response = client.post(VERIFY, {"code": authenticator_code(device), "next": "/outbox/"})
        assert response.url == "/outbox/"
        assert client.get(HOME).status_code == 200

    def test_it_refuses_a_next_address_on_another_site(self, editor):
        device = _device(editor)
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        response = client.post(
            VERIFY, {"code": authenticator_code(device), "next": "https://evil.example/"}
        )
        assert response.url == HOME

    def test_ten_wrong_codes_lock_the_account_and_sign_out(self, editor, heard):
        device = _device(editor)
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        for _ in range(9):
            assert client.post(VERIFY, {"code": "000000"}).status_code == 200
        response = client.post(VERIFY, {"code": authenticator_code(device)})
        assert response.status_code == 429
        assert "Sign-in refused for now" in response.content.decode()
        assert ("locked", "editor") in heard
        assert client.get(HOME).url.startswith(LOGIN)

    def test_the_password_alone_cannot_add_another_app(self, editor):
        _device(editor)
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        assert client.get(SETUP).url == VERIFY
        assert client.get(reverse("emailconfig:two_factor_qr")).status_code == 404
        assert TOTPDevice.objects.filter(user=editor).count() == 1


class TestSettingUpTheApp:
    def test_an_admin_must_set_it_up_when_mfa_is_required(self, admin_user, settings):
        settings.STAGEMAIL_REQUIRE_MFA = True
        client = Client()
        _sign_in(client, "admin", "password")
        assert client.get(HOME).url == SETUP
        assert client.get(reverse("emailconfig:outbox")).url == SETUP
        page = client.get(SETUP).content.decode()
        assert "Your account needs a second factor" in page

        qr = client.get(reverse("emailconfig:two_factor_qr"))
        assert qr["Content-Type"] == "image/svg+xml"
        assert qr.content.startswith(b"<?xml") and b"<svg" in qr.content
        assert "no-store" in qr["Cache-Control"]

        device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
        assert "otpauth://totp/Stagemail%3Aadmin?secret=" in device.config_url
        response = client.post(SETUP, {"code": authenticator_code(device)})
        assert response.url == HOME
        assert client.get(HOME).status_code == 200
        device.refresh_from_db()
        assert device.confirmed

    def test_a_production_editor_must_set_it_up_when_mfa_is_required(self, editor, settings):
        settings.STAGEMAIL_REQUIRE_MFA = True
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        assert client.get(HOME).url == SETUP
        assert "Your account needs a second factor" in client.get(SETUP).content.decode()

    def test_an_editor_off_production_is_not_asked_and_may_set_it_up(
        self, django_user_model, settings
    ):
        settings.STAGEMAIL_REQUIRE_MFA = True
        qa_editor = django_user_model.objects.create_user("qa-editor", password="pw")
        factories.grant(qa_editor, StageRole.EDITOR, "development", "qa")
        factories.grant(qa_editor, StageRole.VIEWER, "production")
        client = Client()
        _sign_in(client, "qa-editor", "pw")
        assert client.get(HOME).status_code == 200
        assert "Your account needs" not in client.get(SETUP).content.decode()

    def test_a_wrong_code_is_refused_on_the_field(self, editor):
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        client.get(SETUP)
        page = client.post(SETUP, {"code": "12ab"}).content.decode()
        assert "Enter the 6 digits your app shows." in page
        assert not TOTPDevice.objects.filter(confirmed=True).exists()

    def test_the_key_stays_the_same_until_confirmed(self, editor):
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        client.get(SETUP)
        client.get(SETUP)
        assert TOTPDevice.objects.filter(user=editor).count() == 1


class TestPasswordChange:
    URL = reverse("emailconfig:password_change")

    def test_every_user_can_change_their_password(self, outsider):
        client = Client()
        _sign_in(client, "outsider", "pw-outsider")
        assert 'href="/account/password/"' in client.get(HOME).content.decode()  # a 403 page too
        new = "a-much-longer-passphrase-42"
        response = client.post(
            self.URL,
            {"old_password": "pw-outsider", "new_password1": new, "new_password2": new},
            follow=True,
        )
        assert "Your password is changed." in response.content.decode()
        assert client.get(self.URL).status_code == 200  # still signed in
        assert _sign_in(Client(), "outsider", new).status_code == 302

    def test_a_wrong_current_password_is_an_error_on_its_field(self, outsider):
        client = Client()
        _sign_in(client, "outsider", "pw-outsider")
        page = client.post(
            self.URL, {"old_password": "nope", "new_password1": "x", "new_password2": "x"}
        ).content.decode()
        assert "Your old password was entered incorrectly" in page


class TestIdleSessions:
    def test_an_idle_session_is_signed_out(self, editor, settings):
        settings.SESSION_COOKIE_AGE = 1
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        time.sleep(1.5)
        assert client.get(HOME).url.startswith(LOGIN)

    def test_each_request_keeps_a_session_alive(self, editor, settings):
        settings.SESSION_COOKIE_AGE = 2
        client = Client()
        _sign_in(client, "editor", "pw-editor")
        for _ in range(4):
            time.sleep(0.8)
            assert client.get(HOME).status_code == 200


class TestTheAddressCounted:
    def _fail_ten_times(self, client: Client, forwarded_for: str) -> None:
        for number in range(10):
            client.post(
                LOGIN,
                {"username": f"guess-{number}", "password": "wrong"},
                headers={"X-Forwarded-For": forwarded_for},
            )

    def test_without_proxies_a_forwarded_header_changes_nothing(self, editor):
        client = Client()
        for number in range(10):  # a new address claimed each time
            client.post(
                LOGIN,
                {"username": f"guess-{number}", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{number}"},
            )
        assert _sign_in(client, "editor", "pw-editor").status_code == 429

    def test_behind_a_proxy_each_client_is_counted_alone(self, editor, settings):
        settings.STAGEMAIL_TRUSTED_PROXY_COUNT = 1
        proxy = Client(REMOTE_ADDR="10.0.0.2")
        self._fail_ten_times(proxy, "203.0.113.9")
        locked = proxy.post(
            LOGIN,
            {"username": "editor", "password": "pw-editor"},
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},  # its own claim ignored
        )
        assert locked.status_code == 429
        other = proxy.post(
            LOGIN,
            {"username": "editor", "password": "pw-editor"},
            headers={"X-Forwarded-For": "203.0.113.10"},
        )
        assert other.status_code == 302


def test_the_code_page_offers_nothing_but_the_code_and_sign_out(editor):
    _device(editor)
    client = Client()
    _sign_in(client, "editor", "pw-editor")
    page = client.get(VERIFY).content.decode()
    assert 'aria-label="Main"' not in page
    assert "/account/password/" not in page
    assert "Sign out" in page
