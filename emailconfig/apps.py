from django.apps import AppConfig


class EmailConfigConfig(AppConfig):
    name = "emailconfig"
    verbose_name = "Email configuration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from emailconfig import checks  # noqa: F401  (registers the system checks)
        from emailconfig.roles import ensure_groups

        post_migrate.connect(ensure_groups, sender=self)

        from emailconfig import sign_ins

        sign_ins.connect()
