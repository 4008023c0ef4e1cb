import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from emailconfig.worker import Worker


class Command(BaseCommand):
    help = (
        "Deliver queued messages. Run one per process; on PostgreSQL run as many as you like, "
        "on any number of machines. Stops cleanly on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--poll", type=float, default=0.5, help="Seconds to wait when idle.")
        parser.add_argument(
            "--until-done",
            action="store_true",
            help="Exit once no message is queued, deferred or being sent (scripts, benchmarks).",
        )

    def handle(self, *args: object, **options: object) -> None:
        batch_size, poll = int(options["batch_size"]), float(options["poll"])
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if connection.vendor == "sqlite":
            self.stderr.write("SQLite: run one worker; PostgreSQL lets several share the work.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        Worker(batch_size=batch_size).run(
            stop, poll_seconds=poll, until_done=bool(options["until_done"])
        )
