"""A running SMTP ingress on loopback, a delivery sink behind it, and an app to sign in as."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator

import pytest

from emailconfig.ingress import server as ingress_server
from emailconfig.ingress.server import Ingress
from emailconfig.models import Message
from emailconfig.services import configurations, tokens
from tests import factories
from tests.servers import free_port, smtp_server

USERNAME = "billing/qa"


@pytest.fixture
def sink():
    with smtp_server() as running:
        yield running


@pytest.fixture
def world(seeded_transactional_db, sink):
    """Billing on QA, its configuration delivering to the sink, and Billing's QA token."""
    config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
    app = factories.app("Billing")
    qa = factories.stage("qa")
    configurations.apply_version(app, qa, config.latest_version(), by=None)
    credential, token = tokens.issue(app, qa, by=None)
    return {"config": config, "app": app, "stage": qa, "credential": credential, "token": token}


@pytest.fixture(autouse=True)
def _quick_failures(monkeypatch):
    monkeypatch.setattr(ingress_server, "FAILURE_DELAY", 0.01)


def running(certificates, **options) -> Iterator[Ingress]:
    cert, key = certificates.localhost
    ingress = Ingress("127.0.0.1", free_port(), certificate=str(cert), key=str(key), **options)
    ingress.start()
    try:
        yield ingress
    finally:
        ingress.stop()


@pytest.fixture
def ingress(world, certificates):
    yield from running(certificates)


def port(ingress: Ingress, which: int = 0) -> int:
    return ingress.ports[which]


def client_context(certificates) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificates.ca_pem)


def signed_in(ingress: Ingress, certificates, token: str, username: str = USERNAME) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port(ingress), timeout=10)
    try:
        client.starttls(context=client_context(certificates))
        client.login(username, token)
    except smtplib.SMTPException:
        client.close()
        raise
    return client


def stored() -> int:
    return Message.objects.count()
