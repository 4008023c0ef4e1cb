"""Administrator tokens: issued once (stored hashed, as app tokens are), revoked, authenticated."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.models import AdminToken, AuditAction, Stage
from emailconfig.services.tokens import LAST_USED_PRECISION, digest, mint

MARKER = "sma_"  # like app tokens' smk_: leaked ones are easy to scan for, and never mixed up


@transaction.atomic
def issue(
    owner: object, *, name: str, scope: str, stages: Sequence[Stage], by: Who
) -> tuple[AdminToken, str]:
    """Create a token for `owner`; the plaintext is returned once and never stored."""
    token, prefix, token_hash = mint(MARKER)
    credential = AdminToken.objects.create(
        owner=owner, name=name, scope=scope, prefix=prefix, token_hash=token_hash
    )
    credential.stages.set(stages)
    audit.record(
        by,
        AuditAction.ADMIN_TOKEN_ISSUED,
        credential,
        stage=", ".join(stage.name for stage in stages),
        details={"prefix": prefix, "scope": scope},
    )
    return credential, token


@transaction.atomic
def revoke(credential: AdminToken, *, by: Who) -> bool:
    """Revoke a token; False when it was revoked already (then nothing is recorded)."""
    done = AdminToken.objects.filter(pk=credential.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if done:
        audit.record(
            by, AuditAction.ADMIN_TOKEN_REVOKED, credential, details={"prefix": credential.prefix}
        )
    return bool(done)


def authenticate(token: str) -> AdminToken | None:
    """The unrevoked token of an active person, or None."""
    if not token.startswith(MARKER) or len(token) > 100:
        return None
    credential = (
        AdminToken.objects.select_related("owner")
        .filter(token_hash=digest(token), revoked_at=None, owner__is_active=True)
        .first()
    )
    if credential is None:
        return None
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at > LAST_USED_PRECISION:
        AdminToken.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential
