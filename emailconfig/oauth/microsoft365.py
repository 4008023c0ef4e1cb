"""Microsoft 365 / Exchange Online: an app registration's client credentials, through msal."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import msal

from emailconfig import outbound
from emailconfig.engines.http_connection import Response
from emailconfig.oauth.base import AccessToken, TokenError, TokenProvider, digest
from emailconfig.oauth.transport import TokenHTTP, unreachable

OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
AUTHORITY_HOST = "https://login.microsoftonline.com"

WRONG_TENANT = (
    "Check the tenant: use the directory (tenant) ID or its domain "
    "(contoso.onmicrosoft.com) where the app is registered."
)
HINTS = {
    "AADSTS90002": "No such tenant. " + WRONG_TENANT,
    "AADSTS700016": (
        "No app with this application (client) ID in this tenant: check the client ID, "
        "and that the tenant is the one where the app is registered."
    ),
    "AADSTS7000215": (
        "The client secret is wrong: enter the secret's Value (shown once when it was "
        "created), not its Secret ID."
    ),
    "AADSTS7000222": "The client secret has expired: create a new one for the app.",
    "AADSTS65001": (
        "Consent is missing: an administrator must grant admin consent for the app's "
        "SMTP.SendAsApp permission (Office 365 Exchange Online) in Entra ID."
    ),
}
REJECTED_HINT = (
    "Microsoft issued a token but the mailbox refused it: register the app's service "
    "principal in Exchange Online (New-ServicePrincipal) and allow it the mailbox "
    "(Add-MailboxPermission), and check admin consent for SMTP.SendAsApp. The SMTP username "
    "must be that mailbox."
)
_AADSTS = re.compile(r"\bAADSTS\d+\b")


class MicrosoftClientCredentials(TokenProvider):
    """Client credentials flow (no user): the app sends as the mailboxes Exchange allows it."""

    label = "Microsoft 365"
    rejected_hint = REJECTED_HINT

    def __init__(
        self,
        tenant: str,
        client_id: str,
        client_secret: str,
        scope: str = OUTLOOK_SCOPE,
        *,
        authority_host: str = AUTHORITY_HOST,
        trusted_ca: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.authority_host = authority_host.rstrip("/")
        self.trusted_ca = trusted_ca
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<MicrosoftClientCredentials {self.tenant} {self.client_id}>"

    @property
    def identity(self) -> tuple[str, ...]:
        return (
            "microsoft",
            self.authority_host,
            self.tenant,
            self.client_id,
            self.scope,
            digest(self._client_secret),
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._client_secret,)

    def fetch(self) -> AccessToken:
        try:
            outbound.check_web_url(self.authority_host)  # in our words, before msal's
        except outbound.OutboundRefused as exc:
            raise unreachable(self.label, exc) from None
        http = _MsalHTTP(self)
        try:
            # A new application each time: the cache in front of it decides when to ask.
            app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_secret,
                authority=f"{self.authority_host}/{self.tenant}",
                http_client=http,
                instance_discovery=False,  # the authority is given, not looked up at Microsoft
                token_cache=msal.TokenCache(),
            )
            result = app.acquire_token_for_client([self.scope])
        except msal.exceptions.MsalServiceError:  # a 5xx answer
            result = http.last_json()
            if not result.get("error"):
                raise http.status_error() from None
        except ValueError:
            # The tenant's discovery answered 4xx, or an answer was not JSON.
            result = http.last_json()
            if not result.get("error") and http.asked_for_token:
                raise http.status_error("without JSON") from None
            if not result.get("error"):
                raise TokenError(
                    "invalid_tenant",
                    f"{self.label} could not find the tenant “{self.tenant}”.",
                    WRONG_TENANT,
                ) from None
        if isinstance(result, dict) and result.get("access_token"):
            expires_in = float(result.get("expires_in") or 0)
            return AccessToken(str(result["access_token"]), time.time() + expires_in)
        # A 5xx with an error code (temporarily_unavailable) is worth another try later.
        raise self._error(result or {}, permanent=http.last is None or http.last.status_code < 500)

    def _error(self, result: dict[str, Any], *, permanent: bool) -> TokenError:
        description = str(result.get("error_description") or "")
        codes = result.get("error_codes") or []
        found = _AADSTS.search(description)
        code = (
            f"AADSTS{codes[0]}"
            if codes and str(codes[0]).isdigit()
            else found.group()
            if found
            else str(result.get("error") or "unknown_error")
        )
        # Microsoft's descriptions go on with trace and correlation IDs, one per line.
        first_line = description.strip().splitlines()[0][:300] if description.strip() else ""
        if first_line.startswith(code):
            first_line = first_line[len(code) :].lstrip(": ")
        return TokenError(
            code,
            f"{self.label} refused the token request ({code})"
            + (f": {first_line}" if first_line else ""),
            HINTS.get(code, ""),
            permanent=permanent,
        )


class _MsalHTTP:
    """msal's HTTP client interface (msal.oauth2cli.http.HttpClient) over TokenHTTP."""

    def __init__(self, provider: MicrosoftClientCredentials) -> None:
        self.label = provider.label
        self.http = TokenHTTP(
            provider.label,
            provider.secrets,
            trusted_ca=provider.trusted_ca,
            timeout=provider.timeout,
        )
        self.last: _MsalResponse | None = None

    def get(
        self, url: str, params: dict | None = None, headers: dict | None = None, **kwargs: Any
    ) -> _MsalResponse:
        return self._send("GET", url, params, None, headers)

    def post(
        self,
        url: str,
        params: dict | None = None,
        data: dict | str | None = None,
        headers: dict | None = None,
        **kwargs: Any,
    ) -> _MsalResponse:
        body = urlencode(data) if isinstance(data, dict) else data
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._send("POST", url, params, (body or "").encode(), headers)

    def close(self) -> None:
        """Nothing kept open: each request has its own connection."""

    def _send(
        self,
        method: str,
        url: str,
        params: dict | None,
        body: bytes | None,
        headers: dict | None,
    ) -> _MsalResponse:
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        self.last = _MsalResponse(method, self.http.request(method, url, body, headers))
        return self.last

    @property
    def asked_for_token(self) -> bool:
        return self.last is not None and self.last.method == "POST"

    def status_error(self, how: str = "") -> TokenError:
        status, reason = (self.last.status_code, self.last.reason) if self.last else (0, "")
        return TokenError(
            f"http_{status}",
            f"{self.label}'s token service answered {status} {reason} {how}".strip(),
            permanent=400 <= status < 500,
        )

    def last_json(self) -> dict[str, Any]:
        try:
            answer = json.loads(self.last.text) if self.last else {}
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}


class _MsalResponse:
    def __init__(self, method: str, response: Response) -> None:
        self.method = method
        self.status_code = response.status
        self.reason = response.reason
        self.text = response.body.decode("utf-8", "replace")
        self.headers = response.headers

    def raise_for_status(self) -> None:
        """msal calls its own, on the response it copies from this one."""
