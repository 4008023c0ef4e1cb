from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from emailconfig.services import retention


class Command(BaseCommand):
    help = (
        "Delete finished messages (sent, failed, cancelled) older than --days, with their "
        "attempts. Messages still waiting or being sent are kept."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--days",
            type=int,
            default=settings.STAGEMAIL_RETENTION_DAYS or None,
            help="Keep this many days (default: STAGEMAIL_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: object, **options: object) -> None:
        days = options["days"]
        if days is None or int(days) < 1:
            raise CommandError("Say how many days to keep: --days N (at least 1).")
        days = int(days)
        if options["dry_run"]:
            count = retention.expired(days).count()
            self.stdout.write(f"{count} finished messages are older than {days} days.")
            return
        removed = retention.purge(days)
        self.stdout.write(f"Deleted {removed} finished messages older than {days} days.")
