import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from emailconfig.services.devsetup import (
    DEV_CONFIGURATION,
    INGRESS_ADDRESS,
    ensure_development_configuration,
    ensure_example_template,
    first_email_path,
    sink_refused,
)


class Command(BaseCommand):
    help = (
        "Development: the portal, one delivery worker, the local SMTP sink and SMTP "
        "submission for apps on loopback together (what `make run` starts). Ctrl-C stops them."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("address", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: object, address: str, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("rundev is for development (DEBUG=1); run the parts separately.")
        if ensure_development_configuration():
            self.stdout.write(f"Created “{DEV_CONFIGURATION}” for Development (127.0.0.1:1025).")
        if template := ensure_example_template():
            self.stdout.write(f"Created the example template “{template.name}”.")
        if path := first_email_path():
            self.stdout.write(
                f"First test email: open http://{address}{path} and press Send test; "
                "it arrives under Local sink."
            )
        if refused := sink_refused():
            self.stderr.write(f"NOTE: {refused}")
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "run_dev_sink"]),
            subprocess.Popen([*manage, "run_worker"]),
            subprocess.Popen([*manage, "run_smtp_ingress", "--listen", INGRESS_ADDRESS]),
            subprocess.Popen([*manage, "runserver", address]),
        ]
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
