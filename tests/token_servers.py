"""Stand-ins on loopback for OAuth2 token services, and an SMTP server taking AUTH XOAUTH2.

The token stand-in answers like both Microsoft's identity platform (OpenID discovery per
tenant, then the token endpoint) and Google's token endpoint (a JWT bearer grant), and
records every request. Service account keys are made here with a fresh RSA key.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.smtp import AuthResult
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.servers import RecordingHandler

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6f1a3c2e-0000-4000-8000-00000000c11e"
CLIENT_SECRET = "Xy8Q~s3cret+value/with=odd&chars"
MAILBOX = "noreply@example.com"


@dataclass
class TokenStandIn:
    """Issues `token-1`, `token-2`, ... unless told to answer `error` instead."""

    port: int = 0
    scheme: str = "https"
    requests: list[dict[str, Any]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    expires_in: int = 3600
    error: dict[str, Any] | None = None  # the token endpoint's JSON answer instead of a token
    error_status: int = 400
    tenant_error: dict[str, Any] | None = None  # OpenID discovery's answer for an unknown tenant
    echo: bool = False  # repeat the request body in the error, as some services do
    page: str = ""  # the token endpoint's answer instead of JSON, as a gateway's error page

    @property
    def base(self) -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base}/token"

    @property
    def token_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]


def _handler_for(stand_in: TokenStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            stand_in.requests.append({"method": "GET", "path": self.path})
            tenant = urlsplit(self.path).path.split("/")[1]
            if stand_in.tenant_error is not None:
                self._send(400, stand_in.tenant_error)
                return
            self._send(
                200,
                {
                    "issuer": f"{stand_in.base}/{tenant}/v2.0",
                    "authorization_endpoint": f"{stand_in.base}/{tenant}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{stand_in.base}/{tenant}/oauth2/v2.0/token",
                },
            )

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = dict(parse_qsl(raw))
            stand_in.requests.append({"method": "POST", "path": self.path, "form": form})
            if stand_in.page:
                page = f"{stand_in.page} {raw}".encode()
                self.send_response(stand_in.error_status)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            if stand_in.error is not None:
                answer = dict(stand_in.error)
                if stand_in.echo:
                    answer["error_description"] += f" You sent: {raw} {json.dumps(form)}"
                self._send(stand_in.error_status, answer)
                return
            token = f"token-{len(stand_in.issued) + 1}"
            stand_in.issued.append(token)
            answer = {"access_token": token, "expires_in": stand_in.expires_in}
            self._send(200, {**answer, "token_type": "Bearer"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def token_stand_in(*, tls: ssl.SSLContext | None = None) -> Iterator[TokenStandIn]:
    """The stand-in on loopback: HTTPS for localhost with `tls`, else plain HTTP."""
    stand_in = TokenStandIn(scheme="https" if tls else "http")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(stand_in))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    stand_in.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


# Google service account keys ------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccountKey:
    json: str
    private_key: rsa.RSAPrivateKey
    pem: str

    def claims(self, assertion: str) -> dict[str, Any]:
        """The JWT's claims, once its signature is verified with the key's public half."""
        header, payload, signature = assertion.split(".")
        self.private_key.public_key().verify(
            _unbase64url(signature),
            f"{header}.{payload}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return json.loads(_unbase64url(payload))


def _unbase64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def service_account_key(token_uri: str) -> ServiceAccountKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "stagemail-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "mailer@stagemail-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }
    return ServiceAccountKey(json.dumps(info), private_key, pem)


# SMTP with AUTH XOAUTH2 ------------------------------------------------------------


@dataclass
class XOAuth2Handler(RecordingHandler):
    """Accepts the tokens in `valid` for `mailbox`, after refusing the first `refuse` tries
    as Gmail does: a 334 with the error as base64 JSON, then 535 after the empty line."""

    valid: list[str] = field(default_factory=list)
    mailbox: str = MAILBOX
    refuse: int = 0
    attempts: list[str] = field(default_factory=list)  # the decoded SASL strings

    async def auth_XOAUTH2(self, server, args):
        initial = args[1] if len(args) > 1 else ""
        sasl = base64.b64decode(initial).decode()
        self.attempts.append(sasl)
        fields = dict(part.split("=", 1) for part in sasl.split("\x01") if part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        if self.refuse or fields.get("user") != self.mailbox or token not in self.valid:
            self.refuse = max(0, self.refuse - 1)
            error = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}
            await server.challenge_auth(json.dumps(error))  # the client answers an empty line
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
            )
        return AuthResult(success=True, handled=False)
