"""API credentials per (app, stage): issued once, stored hashed, revoked or rotated with grace."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.models import ApiToken, App, AuditAction, RateWindow, Stage

TOKEN_PREFIX = "smk_"  # noqa: S105  (a public marker that makes leaked tokens easy to scan for)
LAST_USED_PRECISION = timedelta(minutes=1)  # avoid a write on every request


def digest(token: str) -> str:
    """What is stored of a token, app's or administrator's."""
    # Tokens are 256 random bits, so a fast hash is enough; a slow one would only slow the API.
    return hashlib.sha256(token.encode()).hexdigest()


def mint(marker: str = TOKEN_PREFIX) -> tuple[str, str, str]:
    """A new token behind its public `marker`: (token, the prefix shown, its digest)."""
    token = marker + secrets.token_urlsafe(32)
    return token, token[:12], digest(token)


@transaction.atomic
def issue(app: App, stage: Stage, *, by: Who) -> tuple[ApiToken, str]:
    """Create a credential; the plaintext token is returned once and never stored."""
    credential, token = _create(app, stage, by=by)
    audit.record(
        by, AuditAction.TOKEN_ISSUED, app, stage=stage, details={"prefix": credential.prefix}
    )
    return credential, token


def _create(app: App, stage: Stage, *, by: Who) -> tuple[ApiToken, str]:
    token, prefix, token_hash = mint()
    credential = ApiToken.objects.create(
        app=app,
        stage=stage,
        prefix=prefix,
        token_hash=token_hash,
        created_by=audit.actor(by).user,
    )
    return credential, token


@transaction.atomic
def rotate(app: App, stage: Stage, *, grace: timedelta, by: Who) -> tuple[ApiToken, str]:
    """Issue a new token; the active old ones keep working for `grace`, then expire."""
    deadline = timezone.now() + grace
    expiring = []
    for old in ApiToken.objects.select_for_update().filter(app=app, stage=stage, revoked_at=None):
        if old.expires_at is None or old.expires_at > deadline:
            old.expires_at = deadline
            old.save(update_fields=["expires_at"])
            expiring.append(old.prefix)
    credential, token = _create(app, stage, by=by)
    audit.record(
        by,
        AuditAction.TOKEN_ROTATED,
        app,
        stage=stage,
        details={
            "prefix": credential.prefix,
            "grace_seconds": int(grace.total_seconds()),
            "expiring": expiring,
        },
    )
    return credential, token


@transaction.atomic
def revoke(credential: ApiToken, *, by: Who) -> bool:
    """Revoke a credential; False when it was revoked already (then nothing is recorded)."""
    done = ApiToken.objects.filter(pk=credential.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if done:
        audit.record(
            by,
            AuditAction.TOKEN_REVOKED,
            credential.app,
            stage=credential.stage,
            details={"prefix": credential.prefix},
        )
    return bool(done)


# The API's hot path: one statement, written out because compiling the equivalent
# ORM query (correlated subqueries) cost more CPU than the rest of a request.
_CREDENTIAL_WITH_WHAT_THE_API_NEEDS = """
    SELECT token.*,
           applied.version_id AS applied_version_id,
           applied.rate_limit_per_minute AS applied_rate_limit,
           COALESCE(counted.count, 0) AS counted_this_minute
    FROM emailconfig_apitoken token
    LEFT JOIN emailconfig_appliedconfiguration applied
           ON applied.app_id = token.app_id AND applied.stage_id = token.stage_id
    LEFT JOIN emailconfig_ratewindow counted
           ON counted.app_id = token.app_id AND counted.stage_id = token.stage_id
          AND counted.window_start = %s
    WHERE token.token_hash = %s
"""


def authenticate(token: str) -> ApiToken | None:
    """The active credential for a presented token, or None.

    The credential also carries what the API needs next: the version applied to its app
    and stage, its rate limit, and how many messages this minute has counted so far.
    App and stage themselves load only if needed.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    this_minute = connection.ops.adapt_datetimefield_value(RateWindow.start_of(timezone.now()))
    found = ApiToken.objects.raw(_CREDENTIAL_WITH_WHAT_THE_API_NEEDS, [this_minute, digest(token)])
    credential = next(iter(found), None)
    if credential is None or not credential.is_active:
        return None
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential
