from django.core.management.base import BaseCommand

from emailconfig import crypto


class Command(BaseCommand):
    help = "Print a new Fernet key for STAGEMAIL_ENCRYPTION_KEYS."

    requires_system_checks = []

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(crypto.generate_key())
