"""Google Workspace: a service account with domain-wide delegation, impersonating the sender."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import google.auth.exceptions
import google.auth.transport
from google.oauth2 import service_account

from emailconfig.oauth.base import AccessToken, TokenError, TokenProvider, digest
from emailconfig.oauth.transport import TokenHTTP

GMAIL_SCOPE = "https://mail.google.com/"
_CLOCK_WORDS = re.compile(r"\b(iat|exp|timeframe)\b", re.IGNORECASE)
_KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")

NOT_DELEGATED = (
    "Domain-wide delegation is not granted for this scope: in the Google Admin console "
    "(Security › API controls › Domain-wide delegation), add the service account's client ID "
    "with the scope {scope}."
)
MAILBOX_NOT_PERMITTED = (
    "The mailbox may not be impersonated: {subject} must be an active user of the Workspace "
    "domain that delegated access to this service account."
)
CLOCK_SKEW = "This machine's clock is off: Google accepts the request only with the right time."
KEY_REVOKED = "The key was deleted or disabled in Google Cloud: create a new key and paste it."
REJECTED_HINT = (
    "Google issued a token but Gmail refused it: the scope must be https://mail.google.com/ "
    "and the SMTP username the impersonated mailbox, a user with Gmail enabled."
)


class GoogleServiceAccount(TokenProvider):
    """The JWT bearer grant, signed with the key, for `subject` (the mailbox sending)."""

    label = "Google"
    rejected_hint = REJECTED_HINT

    def __init__(
        self,
        key_json: str,
        subject: str,
        scope: str = GMAIL_SCOPE,
        *,
        trusted_ca: str = "",
        timeout: float = 10.0,
    ) -> None:
        self._info = read_key(key_json)
        self.subject = subject
        self.scope = scope
        self.trusted_ca = trusted_ca
        self.timeout = timeout

    @property
    def client_email(self) -> str:
        return str(self._info["client_email"])

    @property
    def token_uri(self) -> str:
        """From the key file: tokens are asked where the key says."""
        return str(self._info["token_uri"])

    def __repr__(self) -> str:
        return f"<GoogleServiceAccount {self.client_email} as {self.subject}>"

    @property
    def identity(self) -> tuple[str, ...]:
        return (
            "google",
            self.client_email,
            self.token_uri,
            self.subject,
            self.scope,
            digest(str(self._info["private_key"])),
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        key = str(self._info["private_key"])
        # The key as a whole, and each line of it: an echo may quote a piece.
        lines = [line for line in key.splitlines() if len(line) >= 16]
        return (key, *lines)

    def fetch(self) -> AccessToken:
        try:
            credentials = service_account.Credentials.from_service_account_info(
                self._info, scopes=[self.scope], subject=self.subject
            )
        except (ValueError, KeyError, TypeError):
            # The library's words may quote the key; ours do not.
            raise TokenError(
                "invalid_key",
                "The service account key cannot be read: its private key is not a valid PEM key.",
                KEY_REVOKED,
            ) from None
        http = TokenHTTP(self.label, self.secrets, trusted_ca=self.trusted_ca, timeout=self.timeout)
        try:
            credentials.refresh(_GoogleRequest(http))
        except google.auth.exceptions.RefreshError as exc:
            raise self._error(exc) from None
        expiry = credentials.expiry.replace(tzinfo=datetime.UTC)  # google-auth's naive UTC
        return AccessToken(str(credentials.token), expiry.timestamp())

    def _error(self, exc: google.auth.exceptions.RefreshError) -> TokenError:
        answer = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        code = str(answer.get("error") or "unknown_error")
        description = " ".join(str(answer.get("error_description") or "").split())[:300]
        hint = ""
        if code == "unauthorized_client":
            hint = NOT_DELEGATED.format(scope=self.scope)
        elif code == "invalid_grant":
            if "signature" in description.lower():
                hint = KEY_REVOKED
            elif _CLOCK_WORDS.search(description):
                hint = CLOCK_SKEW
            else:
                hint = MAILBOX_NOT_PERMITTED.format(subject=self.subject)
        return TokenError(
            code,
            f"{self.label} refused the token request ({code})"
            + (f": {description}" if description else ""),
            hint,
            permanent=not getattr(exc, "retryable", False),
        )


def read_key(key_json: str) -> dict[str, Any]:
    """The service account key file's fields; a malformed one is refused in our words."""
    try:
        info = json.loads(key_json)
    except ValueError:
        info = None
    if not isinstance(info, dict) or any(not info.get(name) for name in _KEY_FIELDS):
        raise TokenError(
            "invalid_key",
            "This is not a service account key: paste the JSON key file as downloaded from "
            "Google Cloud (with client_email, private_key and token_uri).",
        )
    return info


class _GoogleResponse(google.auth.transport.Response):
    def __init__(self, status: int, headers: Any, data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Any:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class _GoogleRequest(google.auth.transport.Request):
    """google-auth's transport interface over TokenHTTP."""

    def __init__(self, http: TokenHTTP) -> None:
        self.http = http

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _GoogleResponse:
        response = self.http.request(method, url, body, headers)
        return _GoogleResponse(response.status, response.headers, response.body)
