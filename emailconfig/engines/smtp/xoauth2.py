"""SMTP sign-in with an OAuth2 access token: AUTH XOAUTH2, as Microsoft 365 and Gmail take it.

The client sends `user=<mailbox>^Aauth=Bearer <token>^A^A` in base64. A server refusing
the token answers 334 with a base64 JSON error (`{"status":"401",...}`), waits for an
empty line, then answers 535. A 535 is also what a token revoked early gets, so after one
the cached token is dropped and a new one tried once.
"""

from __future__ import annotations

import base64
import binascii
import json
import smtplib
from collections.abc import Hashable
from dataclasses import dataclass, field

from django.conf import settings as django_settings
from django.views.decorators.debug import sensitive_variables

from emailconfig.delivery import DeliverySettings
from emailconfig.engines.base import DeliveryError
from emailconfig.engines.redaction import forms_of, longest_first, redact
from emailconfig.engines.smtp.options import SignIn, SMTPServer
from emailconfig.oauth import (
    AccessToken,
    GoogleServiceAccount,
    MicrosoftClientCredentials,
    TokenCache,
    TokenProvider,
    cache_key,
    tokens,
)

REFUSED = 535


def sasl_string(mailbox: str, token: str) -> str:
    """The XOAUTH2 initial response, base64 encoded."""
    return base64.b64encode(f"user={mailbox}\x01auth=Bearer {token}\x01\x01".encode()).decode()


@dataclass(frozen=True)
class XOAuth2Login:
    """How an SMTP connection signs in: as `mailbox`, with tokens from `provider`."""

    mailbox: str
    provider: TokenProvider
    version_id: int | None = None  # the configuration version the tokens are cached under
    cache: TokenCache = field(default=tokens, repr=False, compare=False)

    @property
    def key(self) -> Hashable:
        return cache_key(self.version_id, self.provider)

    @property
    def step_name(self) -> str:
        return f"Get an access token ({self.provider.label})"

    def check_token(self) -> str:
        """The connection test's token step: always a new token, kept for the AUTH after it.

        Raises TokenError, with the provider's error code and a hint.
        """
        token = self.cache.refresh(self.key, self.provider)
        minutes = max(0, round(token.seconds_left() / 60))
        return f"{self.provider.label} issued a token, valid for {minutes} minutes"

    def authenticate(self, smtp: smtplib.SMTP) -> str:
        """AUTH XOAUTH2 with the cached token, and once more with a new one after a 535.

        Returns the server's answer; raises TokenError or DeliveryError.
        """
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in offered:
            raise DeliveryError(
                "The server does not offer AUTH XOAUTH2"
                + (f" (only {', '.join(offered)})" if offered else "")
                + ".",
                permanent=True,
                hint="Check the host: Microsoft 365 (smtp.office365.com) and Gmail "
                "(smtp.gmail.com) take OAuth2 after STARTTLS on port 587.",
            )
        token = self.cache.get(self.key, self.provider)
        code, answer = _auth(smtp, self.mailbox, token)
        if code == REFUSED:
            self.cache.invalidate(self.key, token)
            token = self.cache.get(self.key, self.provider)
            code, answer = _auth(smtp, self.mailbox, token)
        if code == 235:
            return answer
        raise DeliveryError(
            f"XOAUTH2 sign-in rejected: {answer}",
            permanent=500 <= code < 600,
            hint=self.provider.rejected_hint if code == REFUSED else "",
        )


@sensitive_variables("token", "initial")
def _auth(smtp: smtplib.SMTP, mailbox: str, token: AccessToken) -> tuple[int, str]:
    """One AUTH XOAUTH2 exchange: the reply code and the server's words, without the token."""
    initial = sasl_string(mailbox, token.value)
    code, reply = smtp.docmd("AUTH", f"XOAUTH2 {initial}")
    detail = ""
    if code == 334:  # the error as base64 JSON; an empty line asks for the final reply
        detail = _error_detail(reply)
        code, reply = smtp.docmd("")
    forms = longest_first(forms_of(token.value, initial))
    words = redact(" ".join(reply.decode("utf-8", "replace").split()), forms)
    return code, f"{code} {words}".strip() + (f" ({redact(detail, forms)})" if detail else "")


def _error_detail(challenge: bytes) -> str:
    try:
        error = json.loads(base64.b64decode(challenge, validate=True))
    except (binascii.Error, ValueError):
        return ""
    if not isinstance(error, dict):
        return ""
    return ", ".join(f"{name} {value}" for name, value in error.items() if name != "schemes")


def login_for(settings: DeliverySettings, server: SMTPServer) -> XOAuth2Login:
    """The sign-in a configuration asks for, its tokens cached under its version."""
    secret = settings.secrets.get(
        "client_secret" if server.sign_in == SignIn.MICROSOFT365 else "service_account_key"
    )
    revealed = secret.reveal() if secret else ""
    timeout = settings.connect_timeout
    provider: TokenProvider
    if server.sign_in == SignIn.MICROSOFT365:
        provider = MicrosoftClientCredentials(
            server.tenant,
            server.client_id,
            revealed,
            authority_host=django_settings.STAGEMAIL_MICROSOFT_AUTHORITY,
            trusted_ca=settings.trusted_ca,
            timeout=timeout,
        )
    else:
        provider = GoogleServiceAccount(
            revealed, server.username, trusted_ca=settings.trusted_ca, timeout=timeout
        )
    return XOAuth2Login(server.username, provider, version_id=settings.version_id)
