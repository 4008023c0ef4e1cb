"""The connection test pages under the outbound policy: a rate limit per user, no raw bytes
or timing of a failure, refusals named on the form. Real servers on loopback."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from emailconfig.models import ConnectionTestWindow, StageRole
from tests import factories
from tests.servers import scripted_server, smtp_server
from tests.views.test_configuration_trials import GreetingHandler, _data

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_editor_client(django_user_model):
    user = django_user_model.objects.create_user(username="second-editor")
    factories.grant(user, StageRole.EDITOR)
    client = Client()
    client.force_login(user)
    return client


def test_connection_tests_are_limited_per_user_and_minute(
    settings, editor, editor_client, second_editor_client
):
    settings.STAGEMAIL_CONNECTION_TESTS_PER_MINUTE = 2
    this_minute = ConnectionTestWindow.start_of(timezone.now())
    for minute in (this_minute, this_minute + timedelta(minutes=1)):  # a minute may turn
        ConnectionTestWindow.objects.create(user=editor, window_start=minute, count=1)
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        config = factories.configuration("qa", name="Relay", smtp_port=server.port)
        saved = reverse("emailconfig:connection_test", args=[config.pk])
        unsaved = reverse("emailconfig:try_connection", args=[config.pk])
        allowed = editor_client.post(saved)
        refused = [editor_client.post(saved), editor_client.post(unsaved, _data(server.port))]
        theirs = second_editor_client.post(saved)
    assert len(handler.greetings) == 2  # the first editor's second test, the other's first
    assert "Every step succeeded" in allowed.content.decode()
    for response in refused:
        page = response.content.decode()
        assert "You have run 2 connection tests this minute" in page
        assert "STAGEMAIL_CONNECTION_TESTS_PER_MINUTE" in page
        assert "Say hello (EHLO)" not in page and "stopped at a failing step" not in page
    assert "Every step succeeded" in theirs.content.decode()


def test_a_failed_step_shows_neither_the_servers_bytes_nor_its_timing(editor_client):
    config = factories.configuration("qa", name="Relay", smtp_port=2525)
    with scripted_server([b"SSH-2.0-OpenSSH_9.6p1 bastion\r\n"]) as port:
        response = editor_client.post(
            reverse("emailconfig:try_connection", args=[config.pk]), _data(port)
        )
    page = response.content.decode()
    assert "Not an SMTP server" in page
    assert "OpenSSH" not in page and "bastion" not in page
    assert not re.search(r"\d+ ms", page)


def test_a_disallowed_port_is_refused_on_the_form_and_nothing_connects(settings, editor_client):
    settings.STAGEMAIL_ALLOWED_SMTP_PORTS = ()
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        response = editor_client.post(reverse("emailconfig:try_connection"), _data(server.port))
    page = response.content.decode()
    assert "Nothing was tried. Correct the fields marked below." in page
    assert f"Port {server.port} is not allowed for SMTP" in page
    assert "STAGEMAIL_ALLOWED_SMTP_PORTS" in page
    assert handler.greetings == []


def test_a_saved_configuration_the_policy_now_refuses_is_refused_when_tested(
    settings, editor_client
):
    handler = GreetingHandler()
    with smtp_server(handler) as server:
        config = factories.configuration("qa", name="Relay", smtp_port=server.port)
        settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = False
        response = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))
    page = response.content.decode()
    assert "a private or loopback address" in page and "STAGEMAIL_ALLOW_PRIVATE_HOSTS" in page
    assert handler.greetings == []
