"""Importing CodeStream On-Prem's config file: its own examples read, broken ones refused with
the path of each problem, nothing saved then."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from emailconfig.models import EmailConfiguration
from emailconfig.services import imports
from tests import factories

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codestream"


def _import(name: str, *args: str) -> str:
    out = StringIO()
    call_command("import_codestream_config", str(FIXTURES / name), *args, stdout=out)
    return out.getvalue()


def _plan(text: str, stage: str = "qa"):
    return imports.plan(text, stage=factories.stage(stage))


def test_nodemailer_through_gmail_with_comments_and_trailing_commas():
    output = _import("nodemailer-gmail.json", "--stage", "qa")
    assert "Created CodeStream (QA) v1 for QA." in output
    assert "gmail-app-password" not in output
    version = EmailConfiguration.objects.get().latest_version()
    assert version.engine == "smtp"
    assert version.options == {
        "host": "smtp.gmail.com",
        "port": 587,
        "security": "starttls",
        "requires_auth": True,
        "sign_in": "password",
        "username": "codestream@example.com",
    }
    assert list(version.secrets) == ["password"]
    assert version.secrets["password"].reveal() == "gmail-app-password"
    assert (version.from_email, version.recipients_mode) == ("codestream@example.com", "app")
    assert "imported with the Gmail / Google Workspace (app password) preset" in output
    assert "storage" not in output  # the rest of the file is not ours to list


def test_sendgrid_with_a_diversion_becomes_a_test_list():
    output = _import("sendgrid.json", "--stage", "qa", "--name", "Legacy mail")
    version = EmailConfiguration.objects.get(name="Legacy mail").latest_version()
    assert version.engine == "sendgrid"
    assert list(version.secrets) == ["api_key"]
    assert version.secrets["api_key"].reveal() == "SG.example-key"
    assert version.options == {"endpoint": "https://api.sendgrid.com/v3/mail/send"}
    assert version.recipients_mode == "test_list"
    assert version.test_recipients == [{"email": "qa-inbox@example.com", "name": ""}]
    assert "emailDeliveryService.NodeMailer: disabled, so skipped." in output
    assert "SG.example-key" not in output


def test_a_dry_run_shows_what_it_would_create_and_saves_nothing():
    output = _import("sendgrid.json", "--stage", "qa", "--dry-run")
    assert "Engine: SendGrid" in output and "Test list: qa-inbox@example.com" in output
    assert "API key: (secret, stored encrypted)" in output
    assert "Dry run: nothing was saved." in output
    assert not EmailConfiguration.objects.exists()


def test_both_sections_enabled_sendgrid_wins_unless_selected_names_nodemailer():
    both = """{"email": {"senderEmail": "a@example.com"}, "emailDeliveryService": {
        "sendgrid": {"apiKey": "SG.k"},
        "NodeMailer": {"host": "smtp.example.com", "port": 465, "secure": true}, %s}}"""
    assert _plan(both % '"x": 1').reading.engine == "sendgrid"
    nodemailer = _plan(both % '"selected": "NodeMailer"')
    assert nodemailer.reading.engine == "smtp" and nodemailer.problems == []
    assert nodemailer.form.cleaned_data["smtp_security"] == "tls"


def test_secure_on_port_587_is_implicit_tls_with_a_warning():
    text = """{"email": {"senderEmail": "a@example.com"},
        "emailDeliveryService": {"NodeMailer": {"host": "smtp.example.com", "port": 587}}}"""
    result = _plan(text)
    assert result.form.cleaned_data["smtp_security"] == "tls"
    assert any("port 587 normally speaks STARTTLS" in note for note in result.reading.notes)


def test_unknown_keys_are_listed_not_fatal():
    text = """{"email": {"senderEmail": "a@example.com", "colour": "blue"},
        "emailDeliveryService": {"sendgrid": {"apiKey": "SG.k", "pool": 5}, "mailgun": {}}}"""
    result = _plan(text)
    assert result.problems == []
    assert "emailDeliveryService.sendgrid.pool: not a setting Stagemail knows; left out." in (
        result.reading.notes
    )
    assert any(note.startswith("emailDeliveryService.mailgun:") for note in result.reading.notes)
    assert any(note.startswith("email.colour:") for note in result.reading.notes)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"emailDeliveryService": {"NodeMailer": {"host": "h.example.com", "port": "abc"}}, '
            '"email": {"senderEmail": "a@example.com"}}',
            'emailDeliveryService.NodeMailer.port: "abc" is not a port.',
        ),
        (
            '{"emailDeliveryService": {"NodeMailer": {"port": 70000}}, '
            '"email": {"senderEmail": "a@example.com"}}',
            "emailDeliveryService.NodeMailer.port: 70000 is not a port.",
        ),
        (
            '{"emailDeliveryService": {"sendgrid": {"url": "/v3/mail/send"}}, '
            '"email": {"senderEmail": "a@example.com"}}',
            "emailDeliveryService.sendgrid.apiKey: missing; SendGrid needs the API key.",
        ),
        (
            '{"emailDeliveryService": {"sendgrid": {"apiKey": "SG.k"}}}',
            "email.senderEmail: missing; Stagemail needs a from address.",
        ),
        (
            '{"emailDeliveryService": {"sendgrid": {"apiKey": "SG.k"}}, '
            '"email": {"senderEmail": "{{SENDER_EMAIL}}"}}',
            'email.senderEmail: "{{SENDER_EMAIL}}" is a placeholder left for an installer, '
            "not a value.",
        ),
        (
            '{"emailDeliveryService": {"sendgrid": {"apiKey": "SG.k"}}, '
            '"email": {"senderEmail": "not an address"}}',
            "email.senderEmail: Enter a valid email address.",
        ),
        ('{"emailDeliveryService": {"sendgrid": {"apiKey": "SG.k",}', "The file is not JSON"),
        ('{"apiServer": {}}', "emailDeliveryService: missing"),
    ],
)
def test_a_file_that_cannot_be_used_names_the_path_of_each_problem(text, problem):
    result = _plan(text)
    assert any(p.startswith(problem) for p in result.problems), result.problems


def test_several_problems_are_all_reported_and_nothing_is_saved(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"emailDeliveryService": {"NodeMailer": {"host": "h.example.com", "port": "abc", '
        '"secure": "yes"}}}'
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_codestream_config", str(broken), "--stage", "qa", stdout=StringIO())
    message = str(refused.value)
    assert 'emailDeliveryService.NodeMailer.port: "abc" is not a port.' in message
    assert 'emailDeliveryService.NodeMailer.secure: "yes" is not true or false.' in message
    assert "email.senderEmail: missing" in message
    assert not EmailConfiguration.objects.exists()


def test_a_stage_with_a_configuration_already_is_refused_by_the_form():
    factories.configuration("qa", name="QA mail")
    result = _plan((FIXTURES / "sendgrid.json").read_text())
    assert any(p.startswith("the stage:") and "QA mail" in p for p in result.problems)


def test_an_unknown_stage_is_a_clear_error():
    with pytest.raises(CommandError, match="--stage: no stage 'staging'"):
        _import("sendgrid.json", "--stage", "staging")
