import logging
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand
from django.db import connection

from emailconfig.models import SinkMessage
from emailconfig.services.devsetup import SINK_HOST, SINK_PORT

MAX_KEPT = 10 * 1024 * 1024


class SinkHandler:
    """Accepts every message and keeps it for the portal's Local sink page."""

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        subject = message_from_bytes(raw[:65536], policy=policy.default).get("Subject", "")
        await sync_to_async(_keep)(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(subject)[:500],
            raw=raw[:MAX_KEPT],
        )
        return "250 2.0.0 Kept by the Stagemail development sink"


def _keep(**fields: object) -> None:
    """Store one received message; the sink holds no database connection between messages."""
    try:
        SinkMessage.objects.create(**fields)
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Run the local development SMTP sink; what it receives shows under Local sink."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default=SINK_HOST)
        parser.add_argument("--port", type=int, default=SINK_PORT)

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
        controller = Controller(SinkHandler(), hostname=host, port=port, decode_data=False)
        controller.start()
        self.stdout.write(f"Development SMTP sink listening on {host}:{port}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
