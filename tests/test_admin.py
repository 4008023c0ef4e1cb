import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from emailconfig.models import EmailConfiguration, Stage
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "admin-page-must-never-show-this"


def _post_data(config=None, **overrides):
    data = {
        "name": "Admin made",
        "stages": [Stage.objects.get(slug="qa").pk],
        "engine": "smtp",
        "smtp_host": "smtp.example.com",
        "smtp_port": "465",
        "smtp_security": "tls",
        "smtp_requires_auth": "on",
        "smtp_username": "mailer",
        "from_email": "noreply@example.com",
        "recipients_mode": "test_list",
        "connect_timeout": "10",
        "send_timeout": "60",
        "sendgrid_endpoint": "https://api.sendgrid.com/v3/mail/send",
        "test_recipients-TOTAL_FORMS": "1",
        "test_recipients-INITIAL_FORMS": "0",
        "test_recipients-0-email": "qa@example.com",
        "test_recipients-0-name": "QA team",
    }
    if config is not None:
        recipient = config.test_recipients.get()
        data.update(
            {
                "test_recipients-INITIAL_FORMS": "1",
                "test_recipients-0-id": str(recipient.pk),
                "test_recipients-0-configuration": str(config.pk),
            }
        )
    data.update(overrides)
    return data


def test_the_admin_creates_a_configuration_with_a_version(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"),
        _post_data(smtp_password_0=SECRET),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    config = EmailConfiguration.objects.get(name="Admin made")
    version = config.latest_version()
    assert (version.number, version.created_by) == (1, admin_user)
    assert version.test_recipients == [{"email": "qa@example.com", "name": "QA team"}]
    assert config.secrets["password"].reveal() == SECRET


def test_the_admin_never_renders_a_stored_secret_and_blank_keeps_it(admin_client):
    admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"), _post_data(smtp_password_0=SECRET)
    )
    config = EmailConfiguration.objects.get()
    url = reverse("admin:emailconfig_emailconfiguration_change", args=[config.pk])
    version_url = reverse(
        "admin:emailconfig_configurationversion_change", args=[config.latest_version().pk]
    )

    page = admin_client.get(url).content.decode()
    version_page = admin_client.get(version_url).content.decode()
    assert SECRET not in page
    assert config.secrets["password"].token not in page
    assert "A value is stored" in page
    assert SECRET not in version_page
    assert config.secrets["password"].token not in version_page
    # The version page names the secrets stored, never their values.
    assert "<label>Engine secrets:</label>" in version_page
    assert '<div class="readonly">password</div>' in version_page

    response = admin_client.post(url, _post_data(config, connect_timeout="20"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.secrets["password"].reveal() == SECRET
    assert config.latest_version().number == 2


def test_the_admin_refuses_a_taken_stage_on_the_field(admin_client):
    factories.configuration("qa", name="Staging mail")
    response = admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"), _post_data(smtp_password_0="x")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["stages"] == [
        "QA is already covered by “Staging mail”."
    ]


def test_the_admin_refuses_an_empty_test_list(admin_client):
    response = admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"),
        _post_data(smtp_password_0="x", **{"test_recipients-0-email": ""}),
    )
    assert response.status_code == 200
    assert "A test list needs at least one test recipient." in response.content.decode()
    assert not EmailConfiguration.objects.exists()


def test_the_admin_sets_the_envelope_sender(admin_client):
    admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"),
        _post_data(smtp_password_0="x", envelope_from="bounces@example.com"),
    )
    assert EmailConfiguration.objects.get().latest_version().envelope_from == "bounces@example.com"


def test_the_admin_refuses_a_repeated_test_recipient(admin_client):
    response = admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"),
        _post_data(
            smtp_password_0="x",
            **{"test_recipients-TOTAL_FORMS": "2", "test_recipients-1-email": "QA@example.com"},
        ),
    )
    assert response.status_code == 200
    assert "QA@example.com is already in the test list." in response.content.decode()
    assert not EmailConfiguration.objects.exists()


def test_the_admin_refuses_to_apply_a_configuration_to_a_stage_it_does_not_cover(admin_client):
    config = factories.configuration("development")
    app = factories.app()
    response = admin_client.post(
        reverse("admin:emailconfig_appliedconfiguration_add"),
        {
            "app": app.pk,
            "stage": Stage.objects.get(slug="qa").pk,
            "version": config.latest_version().pk,
        },
    )
    assert response.status_code == 200
    assert "does not cover QA" in response.content.decode()


def test_every_admin_list_page_opens(admin_client):
    factories.configuration()
    for model in (
        "stage",
        "emailconfiguration",
        "configurationversion",
        "app",
        "appliedconfiguration",
        "emailtemplate",
        "testsend",
    ):
        assert admin_client.get(reverse(f"admin:emailconfig_{model}_changelist")).status_code == 200


def test_the_admin_refuses_a_test_recipient_delivery_would_refuse(admin_client):
    response = admin_client.post(
        reverse("admin:emailconfig_emailconfiguration_add"),
        _post_data(smtp_password_0="x", **{"test_recipients-0-email": "qa@☃.example"}),
    )
    assert response.status_code == 200
    assert "IDNA 2008" in response.content.decode()
    assert not EmailConfiguration.objects.exists()


def test_the_admin_removes_an_authenticator_app_without_showing_its_key(admin_client, editor):
    device = TOTPDevice.objects.create(user=editor, name="Authenticator app")
    change = reverse("admin:otp_totp_totpdevice_change", args=[device.pk])
    assert device.key not in admin_client.get(change).content.decode()
    assert (
        "qrcode"
        not in admin_client.get(reverse("admin:otp_totp_totpdevice_changelist")).content.decode()
    )
    admin_client.post(
        reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}
    )
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
