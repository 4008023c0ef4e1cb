from django.apps import AppConfig


class EmailConfigConfig(AppConfig):
    name = "emailconfig"
    verbose_name = "Email configuration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from emailconfig import (
            checks,  # noqa: F401  (registers the system checks)
            sign_ins,
        )

        sign_ins.connect()
