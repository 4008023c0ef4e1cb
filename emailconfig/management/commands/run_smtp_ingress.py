import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from emailconfig.ingress.server import Ingress, IngressError, parse_address


class Command(BaseCommand):
    help = (
        "SMTP submission for apps on STAGEMAIL_SMTP_INGRESS (host:port): sign in as "
        "app-slug/stage-slug with that app and stage's API token. Stops on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--listen", default="", help="host:port instead of STAGEMAIL_SMTP_INGRESS."
        )
        parser.add_argument(
            "--threads", type=int, default=4, help="Database threads (PostgreSQL; 1 on SQLite)."
        )

    def handle(self, *args: object, listen: str, threads: int, **options: object) -> None:
        address = listen or settings.STAGEMAIL_SMTP_INGRESS
        if not address:
            raise CommandError("Set STAGEMAIL_SMTP_INGRESS (such as 0.0.0.0:587) or --listen.")
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs each connection
        try:
            host, port = parse_address(address)
            ingress = Ingress(
                host,
                port,
                tls_port=settings.STAGEMAIL_SMTP_INGRESS_TLS_PORT,
                certificate=settings.STAGEMAIL_SMTP_INGRESS_CERT,
                key=settings.STAGEMAIL_SMTP_INGRESS_KEY,
                threads=max(1, threads),
            )
            ingress.start()
        except IngressError as exc:
            raise CommandError(str(exc)) from None
        tls = settings.STAGEMAIL_SMTP_INGRESS_TLS_PORT
        self.stdout.write(
            f"SMTP submission listening on {address}"
            + (" (STARTTLS)" if settings.STAGEMAIL_SMTP_INGRESS_CERT else "")
            + (f" and port {tls} (implicit TLS)" if tls else "")
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        ingress.stop()
