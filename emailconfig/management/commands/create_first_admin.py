import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a first superuser with a generated password and print it once, "
        "unless a superuser already exists."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: object, username: str, email: str, **options: object) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "An admin account already exists, so no password is shown: sign in with it "
                "(a forgotten password is reset with `manage.py changepassword USERNAME`)."
            )
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS("First admin account created. Note the password; it is shown once.")
        )
        self.stdout.write(f"  username: {username}\n  password: {password}")
        self.stdout.write(f"Sign in as {username} with the password above.")
