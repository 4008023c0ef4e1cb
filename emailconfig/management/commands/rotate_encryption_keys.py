from django.core.management.base import BaseCommand, CommandError

from emailconfig import crypto
from emailconfig.audit import Actor
from emailconfig.services.keys import rotate_all_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of STAGEMAIL_ENCRYPTION_KEYS, "
        "in one transaction. Safe to run again. Afterwards the other keys can be removed."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            counts = rotate_all_secrets(by=Actor.command("rotate_encryption_keys"))
        except crypto.SecretUnreadable as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} secret(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS("All stored secrets now use the first key."))
