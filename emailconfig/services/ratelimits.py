"""The API rate limit an app has on a stage: its own, or the default when unset."""

from __future__ import annotations

from emailconfig.models import AppliedConfiguration


def set_rate_limit(applied: AppliedConfiguration, per_minute: int | None) -> None:
    """Set the app's own limit on the stage; None goes back to STAGEMAIL_API_RATE_LIMIT.

    An update, not a save: `applied_at` records when the version was applied, not this.
    """
    AppliedConfiguration.objects.filter(pk=applied.pk).update(rate_limit_per_minute=per_minute)
    applied.rate_limit_per_minute = per_minute
