import pytest
from django.urls import reverse

from emailconfig.models import EmailConfiguration, Stage
from emailconfig.services import configurations as services
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "portal-secret-never-shown"


def _form_data(name="Team mail", stages=("development", "qa"), **overrides):
    data = {
        "name": name,
        "stages": [Stage.objects.get(slug=s).pk for s in stages],
        "engine": "smtp",
        "smtp_host": "smtp.example.com",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_requires_auth": "on",
        "smtp_username": "mailer",
        "smtp_password_0": SECRET,
        "from_email": "noreply@example.com",
        "from_name": "Team",
        "recipients_mode": "test_list",
        "connect_timeout": "10",
        "send_timeout": "60",
        "sendgrid_endpoint": "https://api.sendgrid.com/v3/mail/send",
        "recipients-TOTAL_FORMS": "2",
        "recipients-INITIAL_FORMS": "0",
        "recipients-0-email": "qa@example.com",
        "recipients-0-name": "QA",
        "recipients-1-email": "dev@example.com",
        "recipients-1-name": "Dev",
    }
    data.update(overrides)
    return data


def test_an_editor_creates_a_configuration_as_version_one(editor_client, editor):
    response = editor_client.post(reverse("emailconfig:configuration_create"), _form_data())

    config = EmailConfiguration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("emailconfig:configuration_detail", args=[config.pk])
    version = config.latest_version()
    assert (version.number, version.created_by) == (1, editor)
    assert version.stage_names == ["Development", "QA"]
    assert [r["email"] for r in version.test_recipients] == ["qa@example.com", "dev@example.com"]
    page = editor_client.get(response["Location"]).content.decode()
    assert "Saved “Team mail” as version 1." in page
    assert SECRET not in page
    assert config.secrets["password"].token not in page


def test_an_invalid_form_saves_nothing_and_echoes_no_secret(editor_client):
    response = editor_client.post(
        reverse("emailconfig:configuration_create"), _form_data(smtp_port="99999")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 65535." in page
    assert "Nothing was saved" in page
    assert SECRET not in page
    assert not EmailConfiguration.objects.exists()


def test_a_second_configuration_for_a_stage_gets_a_field_error(editor_client):
    factories.configuration("qa", name="Staging mail")
    response = editor_client.post(
        reverse("emailconfig:configuration_create"), _form_data(name="Another")
    )
    assert "QA is already covered by “Staging mail”." in response.content.decode()
    assert EmailConfiguration.objects.count() == 1


def test_the_form_marks_taken_stages(editor_client):
    factories.configuration("qa", name="Staging mail")
    page = editor_client.get(reverse("emailconfig:configuration_create")).content.decode()
    assert "QA (taken by “Staging mail”)" in page


def test_editing_records_a_new_version_and_blank_secret_keeps_it(editor_client):
    editor_client.post(reverse("emailconfig:configuration_create"), _form_data())
    config = EmailConfiguration.objects.get()
    url = reverse("emailconfig:configuration_edit", args=[config.pk])

    page = editor_client.get(url).content.decode()
    assert "A value is stored" in page and SECRET not in page

    editor_client.post(url, _form_data(connect_timeout="20", smtp_password_0=""))
    config.refresh_from_db()
    assert config.latest_version().number == 2
    assert config.secrets["password"].reveal() == SECRET


def test_saving_without_changes_says_so(editor_client):
    editor_client.post(reverse("emailconfig:configuration_create"), _form_data())
    config = EmailConfiguration.objects.get()
    response = editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]),
        _form_data(smtp_password_0=""),
        follow=True,
    )
    assert "Nothing changed, so no new version was recorded." in response.content.decode()
    assert config.versions.count() == 1


def test_the_list_shows_server_versions_and_apps_behind(viewer_client, admin_user):
    config = factories.configuration("qa", name="QA mail", smtp_security="starttls")
    services.apply_version(
        factories.app("Billing"), factories.stage("qa"), config.latest_version(), by=admin_user
    )
    factories.edit(config, smtp_port=2525)

    page = viewer_client.get(reverse("emailconfig:configuration_list")).content.decode()
    assert "127.0.0.1:2525" in page
    assert "STARTTLS" in page
    assert "v2" in page
    assert "1 behind" in page


def test_the_detail_shows_history_and_a_diff_with_secrets_only_as_changed(viewer_client):
    config = factories.configuration(
        smtp_requires_auth=True,
        smtp_username="u",
        smtp_password="first-secret",
        smtp_security="tls",
    )
    factories.edit(config, smtp_password="second-secret", smtp_host="mail.example.com")

    url = reverse("emailconfig:configuration_detail", args=[config.pk])
    page = viewer_client.get(url + "?from=1&to=2").content.decode()

    assert "Changes from v1 to v2" in page
    assert "(hidden, changed)" in page
    assert "mail.example.com" in page
    assert "first-secret" not in page and "second-secret" not in page


def test_the_detail_of_a_missing_configuration_is_404(viewer_client):
    assert (
        viewer_client.get(reverse("emailconfig:configuration_detail", args=[999])).status_code
        == 404
    )


def test_adding_a_stage_on_the_form_records_a_version_that_names_it(editor_client):
    editor_client.post(reverse("emailconfig:configuration_create"), _form_data())
    config = EmailConfiguration.objects.get()
    response = editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]),
        _form_data(
            stages=("development", "qa", "production"),
            smtp_password_0="",
            confirm_stage="Production",
        ),
        follow=True,
    )
    assert "Saved “Team mail” as version 2." in response.content.decode()
    assert config.latest_version().stage_names == ["Development", "QA", "Production"]


def test_the_envelope_sender_is_saved_shown_and_compared(editor_client):
    editor_client.post(
        reverse("emailconfig:configuration_create"),
        _form_data(envelope_from="bounces@example.com"),
    )
    config = EmailConfiguration.objects.get()
    assert config.latest_version().envelope_from == "bounces@example.com"
    editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]),
        _form_data(envelope_from="", smtp_password_0=""),
    )

    url = reverse("emailconfig:configuration_detail", args=[config.pk])
    page = editor_client.get(url + "?from=1&to=2").content.decode()
    assert "Envelope sender (bounce address)" in page
    assert "bounces@example.com" in page  # v1's side of the diff
    assert "Same as the from address" in page


def test_the_form_says_sendgrid_ignores_the_envelope_sender(editor_client):
    page = editor_client.get(reverse("emailconfig:configuration_create")).content.decode()
    assert "SendGrid ignores the envelope sender" in page
    assert 'data-show-when="engine=sendgrid"' in page


def _config_with_credentials(editor_client):
    editor_client.post(reverse("emailconfig:configuration_create"), _form_data())
    return EmailConfiguration.objects.get()


def test_the_edit_form_warns_that_unticking_authentication_removes_the_credentials(
    editor_client,
):
    config = _config_with_credentials(editor_client)
    page = editor_client.get(reverse("emailconfig:configuration_edit", args=[config.pk]))
    assert "If you untick “Requires authentication”" in page.content.decode()


def test_a_refused_save_with_authentication_unticked_says_the_credentials_would_go(
    editor_client,
):
    config = _config_with_credentials(editor_client)
    data = _form_data(smtp_password_0="", smtp_port="0")
    del data["smtp_requires_auth"]
    response = editor_client.post(reverse("emailconfig:configuration_edit", args=[config.pk]), data)
    removing = (
        "Saving removes the stored sign-in secrets: "
        "this configuration will no longer sign in this way."
    )
    assert f">{removing}</p>" in response.content.decode()  # said, not only in the attribute


def test_unticking_authentication_says_the_stored_credentials_were_removed(editor_client):
    config = _config_with_credentials(editor_client)
    data = _form_data(smtp_password_0="")
    del data["smtp_requires_auth"]
    response = editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]), data, follow=True
    )
    page = response.content.decode()
    assert "Saved “Team mail” as version 2." in page
    assert "The stored password was removed: this configuration no longer uses it." in page
    version = config.latest_version()
    assert (version.options.get("username"), version.secrets.get("password")) == (None, None)


def test_a_new_configuration_shows_no_credentials_warning(editor_client):
    page = editor_client.get(reverse("emailconfig:configuration_create")).content.decode()
    assert "untick “Requires authentication”" not in page
