"""Exports: Django's MAILERS sends through Django's own mailers; CodeStream's block reads back
through the importer; secrets are references, never values."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import override_settings

from emailconfig import exports
from emailconfig.codestream import read
from tests import factories
from tests.servers import PASSWORD, USERNAME, smtp_server

pytestmark = pytest.mark.django_db


def _version(**settings):
    return factories.configuration("qa", name="QA mail", **settings).latest_version()


def test_the_exported_mailers_setting_sends_through_djangos_own_mailers(
    certificates, tmp_path, monkeypatch
):
    ca = tmp_path / "ca.pem"
    ca.write_text(certificates.ca_pem)
    with smtp_server(tls=certificates.server_context(certificates.localhost), auth=True) as sink:
        version = _version(
            smtp_host="localhost",
            smtp_port=sink.port,
            smtp_security="starttls",
            smtp_requires_auth=True,
            smtp_username=USERNAME,
            smtp_password=PASSWORD,
        )
        snippet = exports.as_python(exports.django_mailers(version))
        assert PASSWORD not in snippet
        assert 'os.environ["QA_MAIL_PASSWORD"]' in snippet.replace("'", '"')
        monkeypatch.setenv("QA_MAIL_PASSWORD", PASSWORD)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # where an app would trust a private CA
        namespace: dict = {}
        exec(snippet, namespace)  # noqa: S102  (our own output, run as settings.py would)
        with override_settings(MAILERS=namespace["MAILERS"]):
            sent = mail.send_mail(
                "Exported", "Through Django", "noreply@example.com", ["ada@example.com"]
            )
    assert sent == 1
    [received] = sink.handler.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert b"Subject: Exported" in received.content


def test_the_json_has_only_options_djangos_smtp_backend_takes():
    version = _version(
        smtp_host="smtp.example.com",
        smtp_port=465,
        smtp_security="tls",
        smtp_requires_auth=True,
        smtp_username="mailer",
        smtp_password="never-shown",
        recipients_mode="test_list",
        test_recipients=[{"email": "qa@example.com", "name": ""}],
    )
    export = exports.django_mailers(version)
    document = json.loads(exports.as_json(export))
    options = document["default"]["OPTIONS"]
    assert set(options) <= {"host", "port", "username", "password", "use_tls", "use_ssl", "timeout"}
    assert options == {
        "host": "smtp.example.com",
        "port": 465,
        "username": "mailer",
        "password": "${QA_MAIL_PASSWORD}",
        "use_ssl": True,
        "timeout": 60,
    }
    assert document["default"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert "never-shown" not in exports.as_json(export) + exports.as_python(export)
    assert any("test list is Stagemail's own" in note for note in export.notes)


def test_sendgrid_exports_as_its_smtp_relay_for_django():
    version = _version(engine="sendgrid", sendgrid_api_key="SG.secret")
    options = exports.django_mailers(version).document["default"]["OPTIONS"]
    assert (options["host"], options["port"], options["username"], options["use_tls"]) == (
        "smtp.sendgrid.net",
        587,
        "apikey",
        True,
    )
    assert options["password"] == "QA_MAIL_API_KEY"


@pytest.mark.parametrize(
    "settings",
    [
        {
            "smtp_host": "smtp.example.com",
            "smtp_port": 587,
            "smtp_security": "starttls",
            "smtp_requires_auth": True,
            "smtp_username": "mailer",
            "smtp_password": "never-in-an-export",
        },
        {"engine": "sendgrid", "sendgrid_api_key": "never-in-an-export"},
    ],
)
def test_the_codestream_block_reads_back_through_the_importer(settings):
    version = _version(**settings)
    text = exports.as_json(exports.codestream_block(version))
    assert "never-in-an-export" not in text
    reading = read(text.replace("${QA_MAIL_PASSWORD}", "pw").replace("${QA_MAIL_API_KEY}", "k"))
    assert reading.problems == []
    assert reading.engine == version.engine
    assert reading.values["from_email"] == version.from_email


def test_the_configuration_page_offers_the_exports_as_downloads(viewer_client):
    from django.urls import reverse

    version = _version(smtp_requires_auth=True, smtp_username="u", smtp_password="hidden-pw")
    url = reverse("emailconfig:version_export", args=[version.configuration_id, 1, "django.json"])
    response = viewer_client.get(url)
    assert response["Content-Disposition"].endswith('-v1-mailers.json"')
    assert json.loads(response.content)["default"]["OPTIONS"]["password"] == "${QA_MAIL_PASSWORD}"
    assert b"hidden-pw" not in response.content
    bad = reverse("emailconfig:version_export", args=[version.configuration_id, 1, "x.yaml"])
    assert viewer_client.get(bad).status_code == 404
