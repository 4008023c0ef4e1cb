"""System checks: configuration problems are reported before any mail is sent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from emailconfig import crypto


@checks.register(checks.Tags.security)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        settings.SECRET_KEY  # noqa: B018  (Django refuses an empty key on access)
    except ImproperlyConfigured:
        return [
            checks.Error(
                "SECRET_KEY is not set.",
                hint="`make run` writes one to .env; in production set it in the environment "
                "(see README, Configuration).",
                id="emailconfig.E005",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    keys = settings.STAGEMAIL_ENCRYPTION_KEYS
    if not keys:
        level = checks.Warning if settings.DEBUG else checks.Error
        return [
            level(
                "STAGEMAIL_ENCRYPTION_KEYS is not set, so no secret can be stored or read.",
                hint="Generate a key with `python manage.py generate_encryption_key` and set "
                "STAGEMAIL_ENCRYPTION_KEYS to it (comma-separate several to rotate).",
                id="emailconfig.E001",
            )
        ]
    try:
        crypto.parse_keys(keys)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="emailconfig.E002")]
    if len(set(keys)) != len(keys):
        return [
            checks.Warning(
                "STAGEMAIL_ENCRYPTION_KEYS lists the same key twice.",
                id="emailconfig.W003",
            )
        ]
    return []


@checks.register()
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    kept = {
        "STAGEMAIL_RETENTION_DAYS": "finished messages",
        "STAGEMAIL_AUDIT_RETENTION_DAYS": "audit entries",
    }
    return [
        checks.Error(
            f"{name} is negative.",
            hint=f"Set the days {what} are kept, or 0 to keep them forever.",
            id="emailconfig.E004",
        )
        for name, what in kept.items()
        if getattr(settings, name) < 0
    ]


@checks.register()
def check_render_limits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    wrong = []
    if settings.STAGEMAIL_RENDER_PROCESSES < 0:
        wrong.append("STAGEMAIL_RENDER_PROCESSES is negative")
    if settings.STAGEMAIL_RENDER_MEMORY_MB < 16:
        wrong.append("STAGEMAIL_RENDER_MEMORY_MB is under 16")
    if not settings.STAGEMAIL_RENDER_SECONDS > 0:
        wrong.append("STAGEMAIL_RENDER_SECONDS is not above 0")
    if wrong:
        return [
            checks.Error(
                f"{'; '.join(wrong)}.",
                hint="Unset them for the defaults; see README, Template limits.",
                id="emailconfig.E006",
            )
        ]
    return []


def fail_on_startup_errors() -> None:
    """Run the checks at server start (WSGI/ASGI do not) and refuse to serve on errors."""
    errors = [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]
    if errors:
        raise ImproperlyConfigured(
            "Stagemail cannot start:\n" + "\n".join(f"  {e.id}: {e.msg}" for e in errors)
        )
