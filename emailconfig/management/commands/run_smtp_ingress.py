import logging
import signal
import subprocess
import sys
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
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="Processes sharing the ports (SO_REUSEPORT, Linux); one per core.",
        )
        parser.add_argument("--reuse-port", action="store_true", help="(for --processes)")

    def handle(self, *args: object, **options: object) -> None:
        address = str(options["listen"]) or settings.STAGEMAIL_SMTP_INGRESS
        if not address:
            raise CommandError("Set STAGEMAIL_SMTP_INGRESS (such as 0.0.0.0:587) or --listen.")
        threads, processes = int(options["threads"]), int(options["processes"])  # type: ignore[call-overload]
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
                reuse_port=processes > 1 or bool(options["reuse_port"]),
            )
            ingress.start()
        except IngressError as exc:
            raise CommandError(str(exc)) from None
        command = [sys.executable, sys.argv[0], "run_smtp_ingress", "--listen", address]
        command += ["--threads", str(threads), "--reuse-port"]
        others = [
            subprocess.Popen(command)  # noqa: S603  (this very command, started again)
            for _ in range(processes - 1)
        ]
        tls = settings.STAGEMAIL_SMTP_INGRESS_TLS_PORT
        if not options["reuse_port"]:
            self.stdout.write(
                f"SMTP submission listening on {address}"
                + (" (STARTTLS)" if settings.STAGEMAIL_SMTP_INGRESS_CERT else "")
                + (f" and port {tls} (implicit TLS)" if tls else "")
                + (f", {processes} processes" if processes > 1 else "")
            )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        for other in others:
            other.terminate()
        ingress.stop()
        for other in others:
            other.wait()
