"""An engine is one module and one line in the registry: a third engine, defined here and
registered for the test, is stored, shown, compared, tested, exported and delivered through
without a change anywhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from django import forms
from django.urls import reverse

from emailconfig import exports, versions
from emailconfig.composer import WireMessage
from emailconfig.delivery import Address
from emailconfig.engines import ENGINES, DeliveryResult, Engine, EngineOptions, Step
from emailconfig.forms.secrets import SecretFormField
from emailconfig.models import EmailConfiguration, MessageStatus, Outcome, Stage
from emailconfig.services import configurations, outbox
from emailconfig.worker import Worker
from tests import factories

pytestmark = pytest.mark.django_db


class MailboxOptions(EngineOptions):
    engine = "mailbox"

    mailbox_folder = forms.CharField(label="Folder", max_length=50)
    mailbox_token = SecretFormField(label="Access token")

    @classmethod
    def summary(cls, options: Mapping[str, Any]) -> dict[str, str]:
        return {"server": f"mailbox:{options['folder']}", "sign_in": "Token"}


class MailboxEngine(Engine):
    """Keeps what it delivers in memory, in the folder its options name."""

    key = "mailbox"
    label = "Mailbox"
    Options = MailboxOptions
    folders: ClassVar[dict[str, list[bytes]]] = {}

    def deliver(self, message: WireMessage) -> DeliveryResult:
        self.folders.setdefault(self.destination(), []).append(message.raw)
        return DeliveryResult(outcome=Outcome.DELIVERED, answer="Filed")

    def probe(self) -> list[Step]:
        return [Step("Open the folder", True, 0, f"{self.destination()} is there")]

    def close(self) -> None:
        pass

    def destination(self) -> str:
        return str(self.settings.options["folder"])


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    monkeypatch.setitem(ENGINES, MailboxEngine.key, MailboxEngine)
    MailboxEngine.folders.clear()


@pytest.fixture
def config():
    configuration = EmailConfiguration(
        name="Archive",
        engine="mailbox",
        options={"folder": "inbox"},
        secrets={"token": "t0ken"},
        from_email="noreply@example.com",
    )
    configurations.save_configuration(
        configuration, stages=[Stage.objects.get(slug="qa")], test_recipients=[], author=None
    )
    return configuration


def test_its_options_are_shown_and_compared_and_its_secret_never(config, editor_client):
    page = editor_client.get(reverse("emailconfig:configuration_detail", args=[config.pk]))
    listing = editor_client.get(reverse("emailconfig:configuration_list"))
    config.options = {"folder": "outbox"}
    config.secrets = {"token": "n3w-t0ken"}
    newer = configurations.save_configuration(
        config, stages=list(Stage.objects.filter(slug="qa")), test_recipients=[], author=None
    )

    text = page.content.decode()
    assert "Folder" in text and "inbox" in text and "t0ken" not in text
    assert "mailbox:inbox" in listing.content.decode()
    changes = {c.label: (c.old, c.new) for c in versions.diff(config.versions.last(), newer)}
    assert changes == {
        "Folder": ("inbox", "outbox"),
        "Access token": ("(hidden)", "(hidden, changed)"),
    }


def test_the_connection_test_runs_its_steps(config, editor_client):
    answer = editor_client.post(reverse("emailconfig:connection_test", args=[config.pk]))

    assert "Open the folder" in answer.content.decode()
    assert "inbox is there" in answer.content.decode()


def test_the_worker_delivers_through_it(config):
    credential = factories.api_credential(config)
    submission = outbox.Submission(to=(Address("ada@example.com"),), subject="Kept", text="Hi")
    message = outbox.accept(credential, submission)[0]

    Worker().run_once()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(MailboxEngine.folders["inbox"]) == 1
    assert b"Subject: Kept" in MailboxEngine.folders["inbox"][0]


def test_exports_say_there_is_no_counterpart_instead_of_guessing(config):
    version = config.latest_version()

    for export in (exports.django_mailers(version), exports.codestream_block(version)):
        assert export.document == {}
        assert export.notes[0].startswith("The Mailbox engine has no counterpart in ")
