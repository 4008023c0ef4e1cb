"""Token requests through the outbound policy, answers stripped of the secrets that were sent.

msal and google-auth bring their own HTTP clients (requests, urllib3), which would connect
wherever a URL says; both accept ours instead. It opens each connection through
`emailconfig.outbound` (https, an allowed port, a checked address) and removes every secret
of the request from the answer before the library sees it, so neither a library's log line
nor its exception can quote a secret a server repeated.
"""

from __future__ import annotations

import ssl
from urllib.parse import parse_qsl, urlsplit

from emailconfig import outbound
from emailconfig.engines.base import tls_context
from emailconfig.engines.http_connection import BadResponse, HTTPConnection, Response
from emailconfig.engines.redaction import forms_of, longest_first, redact
from emailconfig.oauth.base import TokenError

MAX_ANSWER = 64 * 1024  # a token answer is a few kilobytes
# Form fields of a token request that carry a credential.
_SECRET_FIELDS = ("client_secret", "client_assertion", "assertion")


class TokenHTTP:
    """One request per connection, under one timeout, to URLs the outbound policy allows."""

    def __init__(
        self, label: str, secrets: tuple[str, ...], *, trusted_ca: str = "", timeout: float
    ) -> None:
        self.label = label
        self.secrets = secrets
        self.trusted_ca = trusted_ca
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The answer, whatever its status; raises TokenError when there is none.

        The libraries catch ValueError around requests, and an ssl error is one: every
        failure becomes a TokenError here, so none is mistaken for a malformed answer.
        """
        try:
            response = self._exchange(method, url, body, headers)
        except (outbound.OutboundRefused, BadResponse, OSError) as exc:
            raise unreachable(self.label, exc) from None
        forms = longest_first(
            {form for secret in (*self.secrets, *_sent_secrets(body)) for form in forms_of(secret)}
        )
        text = redact(response.body.decode("utf-8", "replace"), forms)
        return Response(
            response.status, redact(response.reason, forms), response.headers, text.encode()
        )

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str] | None
    ) -> Response:
        scheme, host, port = outbound.check_web_url(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        context = tls_context(self.trusted_ca) if scheme == "https" else None
        connection = HTTPConnection(
            scheme, host, port, connect_timeout=self.timeout, context=context
        )
        try:
            return connection.request(
                method,
                path,
                {"User-Agent": "Stagemail", **(headers or {})},
                body,
                timeout=self.timeout,
                keep=MAX_ANSWER,
            )
        finally:
            connection.close()


def _sent_secrets(body: bytes | None) -> list[str]:
    if not body:
        return []
    try:
        fields = parse_qsl(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return []
    return [value for name, value in fields if name in _SECRET_FIELDS]


def unreachable(label: str, exc: Exception) -> TokenError:
    """The token service could not be asked: our words, never the library's."""
    if isinstance(exc, outbound.OutboundRefused):
        return TokenError("refused", exc.message)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TokenError(
            "tls", f"{label}'s token service: TLS certificate not accepted: {exc.verify_message}"
        )
    if isinstance(exc, BadResponse):
        return TokenError(
            "bad_response",
            f"{label}'s token service did not answer like an HTTP server ({exc})",
            permanent=False,
        )
    if isinstance(exc, TimeoutError):
        return TokenError(
            "timeout", f"Timed out waiting for {label}'s token service", permanent=False
        )
    assert isinstance(exc, OSError)  # noqa: S101  (the caller catches these three kinds)
    return TokenError(
        "network",
        f"Could not reach {label}'s token service: {exc.strerror or type(exc).__name__}",
        permanent=False,
    )
