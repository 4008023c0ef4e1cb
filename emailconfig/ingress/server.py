"""The SMTP side of submission: aiosmtpd listeners, sign-in with API tokens, the replies.

aiosmtpd runs each listener's event loop in a thread of its own; everything that touches
the database (signing in, accepting) runs in a small pool of threads, each with its own
Django connection, so a slow query never stalls the other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
import warnings
import weakref
from base64 import b64decode
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from emailconfig import audit
from emailconfig.audit import Actor
from emailconfig.ingress.reading import read_submission
from emailconfig.models import ApiToken, AuditAction, Message
from emailconfig.services import outbox, tokens

log = logging.getLogger("stagemail.smtp_ingress")


class _Intended(logging.Filter):
    """aiosmtpd warns, per connection, of what is meant here: AUTH without STARTTLS on
    loopback and on the implicit-TLS port, and its own deprecated login_data."""

    NOTES = ("auth_require_tls == False", "login_data is deprecated")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(note in record.getMessage() for note in self.NOTES)


logging.getLogger("mail.log").addFilter(_Intended())
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)

DATABASE_AWAY = (OperationalError, InterfaceError)
FAILURE_DELAY = 1.0  # seconds before a failed login is answered
DRAIN_SECONDS = 10.0  # on stop, how long messages being accepted may take to be answered


class IngressError(Exception):
    """The ingress cannot start as configured; the message says what to change."""


# Throttling ----------------------------------------------------------------------


class FailedLogins:
    """Failed logins per client address, in this process. After `limit` failures within
    `window` seconds, every login from that address is refused, the right token included,
    until `window` passes without one (as the portal's sign-in lockout does)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def locked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address, self.clock())) >= self.limit

    def failed(self, address: str) -> bool:
        """Count a failure; whether it is the one that locks the address out."""
        with self._lock:
            now = self.clock()
            recent = self._recent(address, now)
            recent.append(now)
            locks_out = len(recent) == self.limit
            if len(self._failures) > 10_000:  # forget addresses whose failures are old
                for other in [a for a, f in self._failures.items() if f[-1] <= now - self.window]:
                    del self._failures[other]
            return locks_out

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


# Signing in ----------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """Who a connection signed in as; the token is kept to check it again per message."""

    app: str
    stage: str
    token: str = field(repr=False)


def _signed_in(username: bytes, password: bytes) -> Login | None:
    """The login for `app-slug/stage-slug` and that app and stage's API token, or None."""
    try:
        name, token = username.decode("ascii"), password.decode("ascii")
    except UnicodeDecodeError:
        return None
    app, _, stage = name.partition("/")
    credential = tokens.authenticate(token)
    if credential is None or (credential.app.slug, credential.stage.slug) != (app, stage):
        return None
    return Login(app, stage, token)


def _record_failure(username: bytes, address: str, *, locks_out: bool) -> None:
    """A wrong username or token in the audit trail, as a portal sign-in's is: the name
    tried, never the token."""
    by = Actor(None, "", address or None)
    name = username.decode("ascii", "replace")
    details = {"via": "SMTP submission"}
    audit.record(by, AuditAction.SIGN_IN_FAILED, name, details=details)
    if locks_out:
        audit.record(by, AuditAction.SIGN_IN_LOCKED_OUT, name, details=details)


def _accepted(login: Login, raw: bytes, recipients: list[str]) -> Message:
    """Accept one message through the API's own path. The token is checked again, so a
    revocation or the end of a rotation's grace stops a connection that signed in before;
    it also brings the applied version and the rate limit as they are now."""
    credential: ApiToken | None = tokens.authenticate(login.token)
    if credential is None:
        raise outbox.ApiError(
            401, "unauthorized", "The token has been revoked or has expired since signing in."
        )
    return outbox.accept(credential, read_submission(raw, recipients))[0]


def _with_connection[T](job: Callable[..., T], *args: Any) -> T:
    """Run a job as Django runs a request: an unusable or expired connection is replaced
    first, and one that failed is closed so that the next job opens a new one."""
    close_old_connections()
    try:
        return job(*args)
    except DATABASE_AWAY:
        connection.close()
        raise


# Replies -------------------------------------------------------------------------

_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "…": "...", "–": "-"})
UNAVAILABLE = (
    "451 4.3.0 Stagemail's database cannot be reached right now; send the message again shortly."
)


def reply(code: str, sentence: str) -> str:
    """One reply line: SMTP without SMTPUTF8 speaks ASCII, and a line has at most 512
    octets."""
    text = sentence.translate(_TYPOGRAPHY).encode("ascii", "replace").decode("ascii")
    return f"{code} {' '.join(text.split())}"[:510]


def refusal(error: outbox.ApiError) -> str:
    """The SMTP reply for a refusal of the accept path; only the rate limit is temporary."""
    details = [f"{name}: {text}" for name, texts in error.fields.items() for text in texts]
    sentence = "; ".join(details) or error.message
    if error.status == 413:
        return reply("552 5.3.4", sentence)
    if error.status == 429:
        return reply("451 4.7.1", sentence)
    if error.status == 401:
        return reply("554 5.7.8", sentence)
    if error.status == 409:
        return reply("554 5.3.5", sentence)
    if set(error.fields) & {"to", "cc", "bcc", "reply_to"}:
        return reply("550 5.1.3", sentence)
    return reply("554 5.6.0", sentence)


# The handler ---------------------------------------------------------------------


class IngressHandler:
    """aiosmtpd handler: AUTH PLAIN and LOGIN against the API's tokens, and DATA through
    the accept path. Shared by every listener of one ingress."""

    def __init__(self, pool: ThreadPoolExecutor, failures: FailedLogins) -> None:
        self.pool = pool
        self.failures = failures
        self.accepting = 0  # messages being accepted now (on the event loop's thread)

    async def _run[T](self, job: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, partial(_with_connection, job, *args))

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Not base64.")
        parts = bytes(blob).split(b"\x00")
        if len(parts) != 3:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Not AUTH PLAIN.")
        return await self._sign_in(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            username = await server.challenge_auth(server.AuthLoginUsernameChallenge)
        else:
            try:
                username = b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Not base64.")
        if username is MISSING:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._sign_in(server, bytes(username), bytes(password))

    async def _sign_in(self, server: SMTP, username: bytes, password: bytes) -> AuthResult:
        address = str(server.session.peer[0]) if server.session and server.session.peer else ""
        if self.failures.locked(address):
            self.failures.failed(address)  # each attempt during a lockout starts it again
            await asyncio.sleep(FAILURE_DELAY)
            minutes = round(self.failures.window / 60)
            return AuthResult(
                success=False,
                handled=False,
                message=reply(
                    "454 4.7.0",
                    f"Too many failed logins from your address; try again in {minutes} minutes.",
                ),
            )
        try:
            login = await self._run(_signed_in, username, password)
        except DATABASE_AWAY:
            log.error("the database cannot be reached to check a login")
            return AuthResult(
                success=False,
                handled=False,
                message="454 4.3.0 Stagemail's database cannot be reached right now; try again.",
            )
        if login is None:
            locks_out = self.failures.failed(address)
            with contextlib.suppress(*DATABASE_AWAY):
                await self._run(partial(_record_failure, locks_out=locks_out), username, address)
            await asyncio.sleep(FAILURE_DELAY)
            return AuthResult(
                success=False,
                handled=False,
                message="535 5.7.8 Wrong username or token: the username is app-slug/stage-slug, "
                "the password that app and stage's API token.",
            )
        self.failures.succeeded(address)
        return AuthResult(success=True, auth_data=login)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        login: Login = session.auth_data
        raw = envelope.original_content or b""
        self.accepting += 1
        try:
            message = await self._run(_accepted, login, raw, list(envelope.rcpt_tos))
        except outbox.ApiError as error:
            return refusal(error)
        except DATABASE_AWAY as exc:
            log.error("the database cannot be reached: %s", type(exc).__name__)
            return UNAVAILABLE
        except Exception:
            log.exception("unexpected error accepting a message for %s/%s", login.app, login.stage)
            return "451 4.3.0 Stagemail could not handle this message; the error is in its log."
        finally:
            self.accepting -= 1
        return reply("250 2.0.0", f"Queued as {message.pk} {message.message_id}")


# Listening -----------------------------------------------------------------------


def parse_address(value: str) -> tuple[str, int]:
    """`host:port`, `[::1]:587` for IPv6."""
    host, _, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise IngressError(f"“{value}” is not host:port (for example 0.0.0.0:587 or [::1]:587).")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def data_size_limit() -> int:
    """What DATA may carry: the message limit counts decoded content, and base64 adds a
    third, as for the API's JSON bodies."""
    return settings.STAGEMAIL_MAX_MESSAGE_BYTES * 4 // 3 + 1024 * 1024


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key)
    except (OSError, ssl.SSLError) as exc:
        raise IngressError(f"The certificate or key cannot be loaded: {exc}.") from None
    return context


class Ingress:
    """The running ingress: STARTTLS (or plain, on loopback) on `port`, implicit TLS on
    `tls_port`, one event loop in a thread of its own, and one handler and database thread
    pool for both. With `reuse_port`, several processes share the ports (SO_REUSEPORT)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls_port: int = 0,
        certificate: str = "",
        key: str = "",
        threads: int = 4,
        auth_without_tls: bool | None = None,
        reuse_port: bool = False,
    ) -> None:
        if bool(certificate) != bool(key):
            raise IngressError(
                "Give both STAGEMAIL_SMTP_INGRESS_CERT and STAGEMAIL_SMTP_INGRESS_KEY, or neither."
            )
        if not certificate and not is_loopback(host):
            raise IngressError(
                f"Without a certificate (STAGEMAIL_SMTP_INGRESS_CERT and _KEY) the SMTP ingress "
                f"listens on loopback only, not on {host}: apps would send their tokens in "
                "clear text."
            )
        if tls_port and not certificate:
            raise IngressError("Implicit TLS needs a certificate (STAGEMAIL_SMTP_INGRESS_CERT).")
        context = tls_context(certificate, key) if certificate else None
        if connection.vendor == "sqlite":
            threads = 1  # one writer at a time anyway
        self.host, self.reuse_port, self.threads = host, reuse_port, threads
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="smtp-ingress")
        self.failures = FailedLogins(
            settings.STAGEMAIL_SIGNIN_FAILURE_LIMIT, settings.STAGEMAIL_SIGNIN_LOCKOUT_MINUTES * 60
        )
        self.handler = IngressHandler(self.pool, self.failures)
        common = {
            "hostname": socket.getfqdn(),  # the greeting's name, looked up once
            "ident": "Stagemail",
            "decode_data": False,
            "enable_SMTPUTF8": False,
            "data_size_limit": data_size_limit(),
            "auth_required": True,
        }
        if auth_without_tls is None:
            auth_without_tls = is_loopback(host)
        # (port, TLS for the whole connection, SMTP's own options)
        self.listeners: list[tuple[int, ssl.SSLContext | None, dict[str, Any]]] = [
            (
                port,
                None,
                {**common, "tls_context": context, "auth_require_tls": not auth_without_tls},
            )
        ]
        if tls_port:
            self.listeners.append((tls_port, context, {**common, "auth_require_tls": False}))
        self.ports = [listener[0] for listener in self.listeners]
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()  # to end them on stop
        self._thread: threading.Thread | None = None

    def _session(self, options: dict[str, Any]) -> SMTP:
        session = SMTP(self.handler, loop=self.loop, **options)
        self._sessions.add(session)
        return session

    async def _listen(self) -> None:
        for port, whole_tls, options in self.listeners:
            server = await self.loop.create_server(
                partial(self._session, options),
                host=self.host,
                port=port,
                ssl=whole_tls,
                reuse_address=True,
                reuse_port=self.reuse_port or None,
            )
            self._servers.append(server)

    def start(self) -> None:
        # The loop runs on its own thread only: the caller's thread may have a loop running
        # already (an embedding program, a test driving a browser).
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="smtp-ingress-loop", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result()
        except OSError as exc:
            self._in_loop(self._end_sessions())
            self._stop_loop()
            raise IngressError(f"Cannot listen on {self.host} {self.ports}: {exc}.") from None

    def stop(self) -> None:
        """Stop listening, let the messages being accepted get their answer (for up to
        DRAIN_SECONDS), end the open connections (an app sends again what was not
        answered), then close the pool's database connections."""
        if self._thread is not None:
            self._in_loop(self._drain(), timeout=DRAIN_SECONDS + 1)
            self._in_loop(self._end_sessions())
            self._stop_loop()
        self._close_connections()
        self.pool.shutdown(wait=True)

    def _in_loop(self, work: Any, timeout: float | None = None) -> None:
        asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=timeout)

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.loop.close()

    async def _end_sessions(self) -> None:
        self._close_servers()
        for session in self._sessions:
            if session.transport is not None:
                session.transport.abort()
        await asyncio.sleep(0)  # let the sessions see it

    async def _drain(self) -> None:
        self._close_servers()
        deadline = self.loop.time() + DRAIN_SECONDS
        while self.handler.accepting and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.02)  # the last answers go out

    def _close_servers(self) -> None:
        for server in self._servers:
            server.close()

    def _close_connections(self) -> None:
        """Each pool thread closes its own database connection (Django's are per thread)."""
        everyone = threading.Barrier(self.threads)

        def close() -> None:
            connection.close()
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone.wait(timeout=5)

        for future in [self.pool.submit(close) for _ in range(self.threads)]:
            future.result()
