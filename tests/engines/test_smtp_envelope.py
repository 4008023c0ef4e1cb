"""The envelope sender (bounce address): SMTP's MAIL FROM, apart from the From header."""

from dataclasses import dataclass, field

import pytest

from emailconfig.composer import compose
from emailconfig.engines import engine_for
from emailconfig.models import Outcome
from tests.factories import delivery_settings, request
from tests.servers import RecordingHandler, smtp_server


@dataclass
class SenderRecordingHandler(RecordingHandler):
    """Also keeps every MAIL FROM, including those a reset throws away."""

    mail_froms: list[str] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, options):
        self.mail_froms.append(address)
        return await super().handle_MAIL(server, session, envelope, address, options)


@pytest.mark.parametrize("pipelining", [False, True])
def test_mail_from_is_the_envelope_sender_while_the_from_header_stays(pipelining):
    settings_kwargs = {"envelope_from": "bounces@example.com"}
    with smtp_server(RecordingHandler(pipelining=pipelining)) as server:
        settings = delivery_settings(smtp_port=server.port, **settings_kwargs)
        with engine_for(settings) as engine:
            result = engine.send(compose(request(), settings).wire)

    assert result.outcome == Outcome.DELIVERED
    [received] = server.handler.received
    assert received.mail_from == "bounces@example.com"
    assert received.message["From"] == "Example Team <noreply@example.com>"
    assert "bounces@example.com" not in received.content.decode()


def test_without_an_envelope_sender_mail_from_is_the_from_address():
    with smtp_server() as server:
        settings = delivery_settings(smtp_port=server.port)
        with engine_for(settings) as engine:
            engine.send(compose(request(), settings).wire)
    assert server.handler.received[0].mail_from == "noreply@example.com"


def test_the_connection_test_tries_the_envelope_sender():
    handler = SenderRecordingHandler()
    with smtp_server(handler) as server:
        settings = delivery_settings(smtp_port=server.port, envelope_from="bounces@example.com")
        steps = engine_for(settings).check_connection()
    assert all(step.ok for step in steps)
    assert handler.mail_froms == ["bounces@example.com"]
    assert handler.received == []
