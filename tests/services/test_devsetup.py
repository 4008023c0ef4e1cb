"""What `make run` sets up: the sink configuration and an example template for a first email."""

import pytest

from emailconfig.models import EmailTemplate
from emailconfig.seeds import EXAMPLE_TEMPLATE
from emailconfig.services import devsetup
from tests import factories
from tests.servers import smtp_server

pytestmark = pytest.mark.django_db


def test_the_example_template_is_created_once_and_an_edit_is_kept():
    created = devsetup.ensure_example_template()
    assert created is not None and created.key == EXAMPLE_TEMPLATE["key"]
    EmailTemplate.objects.filter(pk=created.pk).update(subject="Edited")
    assert devsetup.ensure_example_template() is None
    assert EmailTemplate.objects.get().subject == "Edited"


def test_no_example_template_joins_templates_of_ones_own():
    EmailTemplate.objects.create(key="mine", name="Mine", subject="Hi", text_body="x")
    assert devsetup.ensure_example_template() is None
    assert list(EmailTemplate.objects.values_list("key", flat=True)) == ["mine"]


def test_the_first_email_link_sends_the_example_to_the_sink_with_one_press(editor_client):
    assert devsetup.first_email_path() is None
    configuration = devsetup.ensure_development_configuration()
    template = devsetup.ensure_example_template()
    with smtp_server() as sink:
        factories.edit(configuration, smtp_port=sink.port)  # the test's sink, not port 1025
        path = devsetup.first_email_path()
        form = editor_client.get(path).context["form"]
        assert form["configuration"].value() == str(configuration.pk)
        assert form["template"].value() == str(template.pk)

        chosen = {name: form[name].value() or "" for name in form.fields}
        response = editor_client.post(path.split("?")[0], {**chosen, "send": ""})
        assert response.context["sent"] is not None, response.context["form"].errors

    [received] = sink.handler.received
    assert received.rcpt_tos == ["editor@example.com"]
    assert b"Subject: Welcome to Stagemail, Ada" in received.content
    assert b"Issue an API token" in received.content


def test_preview_and_test_send_on_the_sink_configuration_has_the_example_chosen(editor_client):
    configuration = devsetup.ensure_development_configuration()
    template = devsetup.ensure_example_template()
    detail = editor_client.get(f"/configurations/{configuration.pk}/").content.decode()
    link = f"/preview/?configuration={configuration.pk}"
    assert f'href="{link}"' in detail
    form = editor_client.get(link).context["form"]
    assert form["template"].value() == template.pk
    EmailTemplate.objects.create(key="mine", name="Mine", subject="Hi", text_body="x")
    assert editor_client.get(link).context["form"]["template"].value() is None  # a choice now


def test_the_sink_is_reachable_with_make_runs_env_and_named_otherwise(settings, tmp_path):
    from portal.bootstrap_env import write_env

    write_env(tmp_path / ".env")
    written = (tmp_path / ".env").read_text()
    assert "STAGEMAIL_ALLOW_PRIVATE_HOSTS=1\n" in written
    assert "STAGEMAIL_ALLOWED_SMTP_PORTS=1025\n" in written
    settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = True
    settings.STAGEMAIL_ALLOWED_SMTP_PORTS = ((1025, 1025),)
    assert devsetup.sink_refused() == ""
    settings.STAGEMAIL_ALLOWED_SMTP_PORTS = ()
    assert "STAGEMAIL_ALLOWED_SMTP_PORTS=1025 in .env" in devsetup.sink_refused()
    settings.STAGEMAIL_ALLOWED_SMTP_PORTS = ((1025, 1025),)
    settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = False
    assert devsetup.sink_refused().startswith("“127.0.0.1” is a private or loopback address")
