"""What every token provider has in common: the token, the error, the interface."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from emailconfig.engines.base import DeliveryError


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for SMTP's AUTH XOAUTH2; `expires_at` is Unix time."""

    value: str = field(repr=False)
    expires_at: float

    def seconds_left(self) -> float:
        return self.expires_at - time.time()


class TokenError(DeliveryError):
    """The provider gave no token. `code` is the provider's own (AADSTS7000215,
    unauthorized_client) or ours for a failure on the way (network, refused)."""

    def __init__(self, code: str, message: str, hint: str = "", *, permanent: bool = True) -> None:
        super().__init__(message, permanent=permanent, hint=hint)
        self.code = code


class TokenProvider:
    """Fetches access tokens for one identity (an app registration, a service account)."""

    label = ""  # "Microsoft 365", shown in the connection test's step
    # Shown when the SMTP server refuses a token the provider issued.
    rejected_hint = ""

    # Subclasses implement these ------------------------------------------------

    def fetch(self) -> AccessToken:
        raise NotImplementedError("a provider must define fetch(), raising TokenError")

    @property
    def identity(self) -> tuple[str, ...]:
        """What a token is issued for, with a digest instead of any secret: two providers
        with the same identity get interchangeable tokens."""
        raise NotImplementedError("a provider must define identity")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets it sends, to be removed from anything a server answers."""
        raise NotImplementedError("a provider must define secrets")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]
