"""SMTP delivery with the standard library: verified TLS, no clear-text downgrade, deadlines."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from django.views.decorators.debug import sensitive_variables

from emailconfig import outbound
from emailconfig.composer import WireMessage
from emailconfig.engines.base import (
    DeliveryError,
    DeliveryResult,
    Engine,
    MessageError,
    Step,
    ms_since,
    tls_context,
)
from emailconfig.engines.smtp.hints import hint_for
from emailconfig.engines.smtp.options import Security, SignIn, SMTPOptions, SMTPServer
from emailconfig.models import Outcome
from emailconfig.validators import has_control_characters, is_loopback

if TYPE_CHECKING:
    from emailconfig.engines.smtp.xoauth2 import XOAuth2Login


class _DeadlineReader:
    """Reads reply lines, re-arming the socket from the deadline before every receive.

    smtplib reads through a buffered file whose timeout is set once per reply, so a
    server sending one byte at a time could hold a worker forever.
    """

    def __init__(self, client: _DeadlineMixin) -> None:
        self.client = client
        self.buffer = b""

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            self.client._arm()
            assert self.client.sock is not None  # noqa: S101  (armed just above)
            chunk = self.client.sock.recv(4096)
            if not chunk:
                break
            self.client.heard = True
            self.buffer += chunk
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def close(self) -> None:
        self.buffer = b""


class _DeadlineMixin:
    """Arms the socket before every read and write so one message has an overall deadline."""

    sock: socket.socket | None
    file: Any
    deadline: float | None = None
    # Tell "could not connect" from "connected, but no greeting" (an implicit-TLS port).
    transport_open = False  # TCP connected (with implicit TLS: the handshake done too)
    heard = False  # the server has sent at least one byte
    greeting = ""  # the 220 line, shown once the server has answered EHLO or HELO

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self.transport_open = True
        return sock

    def _arm(self) -> None:
        if self.deadline is not None and self.sock is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the send timeout was reached")
            self.sock.settimeout(remaining)

    def send(self, s: Any) -> None:
        self._arm()
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        self._arm()
        if not isinstance(self.file, _DeadlineReader) and self.sock is not None:
            self.file = _DeadlineReader(self)  # also after STARTTLS replaced the socket
        return super().getreply()  # type: ignore[misc]


class _CheckedSocket(smtplib.SMTP):
    """TCP through the outbound policy; SMTP_SSL wraps it in TLS for the configured name."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return outbound.connect(host, port, timeout, outbound.SMTP)


class _SMTP(_DeadlineMixin, _CheckedSocket):
    pass


class _SMTP_SSL(_DeadlineMixin, smtplib.SMTP_SSL, _CheckedSocket):
    pass


def _words(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _answer(code: int, reply: bytes | str) -> str:
    return f"{code} {_words(reply)}".strip()


def _error_for_reply(what: str, code: int, reply: bytes | str) -> DeliveryError:
    """5xx is permanent, anything else (4xx, odd codes) is worth another try."""
    return DeliveryError(f"{what}: {_answer(code, reply)}", permanent=500 <= code < 600)


def _error_before_smtp(what: str, code: int) -> DeliveryError:
    """A refusal before the server answered a greeting, in our words and its code only.

    Until then it may be any service (SSH, a database, an internal web server), and its
    words would let whoever edits a configuration read that service's banner.
    """
    if not 200 <= code < 600:  # smtplib's -1: the line does not start with a reply code
        return DeliveryError("Not an SMTP server: its answer is not an SMTP reply")
    return DeliveryError(f"{what} (SMTP code {code})", permanent=500 <= code < 600)


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a read timeout into SMTPServerDisconnected, raised while handling it.
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and isinstance(exc.__context__, TimeoutError)
    )


def _error_for_exception(exc: BaseException) -> DeliveryError:
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, outbound.OutboundRefused):
        return DeliveryError(exc.message, permanent=True)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _error_for_reply("Authentication rejected", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"Not supported by the server: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _error_for_reply("Server answered", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if "timed out" in str(exc):  # smtplib turns a read timeout into a disconnect
            return DeliveryError("Timed out: no answer from the server in time")
        return DeliveryError(f"The server closed the connection: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(f"SMTP error: {exc}", permanent=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"TLS certificate not accepted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"Timed out: {exc or 'no answer in time'}")
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError("Connection refused: nothing accepts connections on that port")
    if isinstance(exc, OSError):
        return DeliveryError(f"Network error: {exc.strerror or exc}")
    # Anything else is named by type only: its text may hold a secret (the password
    # that smtplib failed to encode, say).
    return DeliveryError(f"Unexpected error talking to the server ({type(exc).__name__})")


STALE_AFTER = 5.0  # seconds idle before a kept connection is checked with NOOP
Reply = tuple[int, bytes]
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _envelope_pipelined(
    smtp: smtplib.SMTP, sender: str, recipients: list[str]
) -> tuple[Reply, list[Reply], Reply | None]:
    """MAIL, every RCPT and DATA in one write, then their replies (RFC 2920)."""
    commands = [f"MAIL FROM:<{sender}>", *(f"RCPT TO:<{r}>" for r in recipients), "DATA"]
    smtp.send(("\r\n".join(commands) + "\r\n").encode("ascii"))
    replies = [smtp.getreply() for _ in commands]
    return replies[0], replies[1:-1], replies[-1]


def _envelope_stepwise(
    smtp: smtplib.SMTP, sender: str, recipients: list[str]
) -> tuple[Reply, list[Reply], Reply | None]:
    """The same exchange one command at a time, stopping as soon as it cannot succeed."""
    mail = smtp.mail(sender)
    if mail[0] != 250:
        return mail, [], None
    rcpts = [smtp.rcpt(r) for r in recipients]
    if all(reply[0] not in (250, 251) for reply in rcpts):
        return mail, rcpts, None
    return mail, rcpts, smtp.docmd("DATA")


def _abandon(smtp: smtplib.SMTP, data: Reply | None) -> None:
    """Leave the transaction cleanly so the connection can carry the next message."""
    if data is not None and data[0] == 354:
        smtp.send(b".\r\n")  # an empty message with no valid recipient; the server drops it
        smtp.getreply()
    smtp.rset()


def _content(message: WireMessage) -> bytes:
    """What follows DATA, once the envelope is known to be sendable: an address outside
    ASCII (this engine does not speak SMTPUTF8) or with a control character (a line break
    would smuggle in a command) is refused before anything reaches the server."""
    for address in (message.envelope_from, *message.recipients):
        if not address.isascii() or has_control_characters(address) or "<" in address:
            raise MessageError(
                f"The address {address!r} cannot go in an SMTP envelope "
                "(plain ASCII without line breaks or angle brackets only)."
            )
    return _dot_stuffed(message.raw)


def _fail(error: DeliveryError, smtp: Any) -> str:
    raise error


def _dot_stuffed(raw: bytes) -> bytes:
    body = _LEADING_DOT.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class SMTPEngine(Engine):
    key = "smtp"
    label = "SMTP"
    Options = SMTPOptions

    _connection: _SMTP | _SMTP_SSL | None = None
    _last_used = 0.0

    @cached_property
    def server(self) -> SMTPServer:
        return SMTPServer.of(self.settings.options)

    @cached_property
    def xoauth2(self) -> XOAuth2Login | None:
        """How to sign in with OAuth2 tokens, when the configuration does; None: a password."""
        server = self.server
        if not server.requires_auth or server.sign_in == SignIn.PASSWORD:
            return None
        from emailconfig.engines.smtp.xoauth2 import login_for  # the providers import engines

        return login_for(self.settings, server)

    def _drop_if_dead(self) -> None:
        """Servers close idle connections; find out before sending, not halfway through."""
        connection = self._connection
        assert connection is not None  # noqa: S101  (checked by the caller)
        try:
            connection.deadline = time.monotonic() + min(5.0, self.settings.send_timeout)
            if connection.noop()[0] == 250:
                return
        except (smtplib.SMTPException, OSError):
            pass
        self._connection = None
        connection.close()

    # Connection -------------------------------------------------------------

    def _connect(self) -> _SMTP | _SMTP_SSL:
        """Open the connection and read the server's greeting."""
        self._refuse_clear_text_credentials()
        s, server = self.settings, self.server
        if server.security == Security.TLS:
            smtp: _SMTP | _SMTP_SSL = _SMTP_SSL(
                timeout=s.connect_timeout, context=tls_context(s.trusted_ca)
            )
        else:
            smtp = _SMTP(timeout=s.connect_timeout)
        smtp._host = server.host  # smtplib verifies TLS against this; set only by its __init__
        smtp.deadline = time.monotonic() + s.connect_timeout  # connecting includes the banner
        try:
            code, banner = smtp.connect(server.host, server.port)
        except BaseException as exc:
            smtp.close()
            if _timed_out(exc) and not smtp.heard:
                raise DeliveryError(
                    "Timed out: connected, but the server sent no greeting"
                    if smtp.transport_open
                    else f"Timed out: no connection to {server.host}:{server.port} in time"
                ) from None
            raise
        if code != 220:
            smtp.close()
            raise _error_before_smtp("The server turned the connection away", code)
        smtp.greeting = _answer(code, banner)
        smtp.deadline = time.monotonic() + s.send_timeout
        return smtp

    def _hello(self, smtp: _SMTP | _SMTP_SSL) -> str:
        """EHLO, or HELO for an old server; returns the accepted answer."""
        code, reply = smtp.ehlo()
        if code != 250:
            code, reply = smtp.helo()
            if code != 250:
                raise _error_before_smtp("The server refused EHLO and HELO", code)
        return _answer(code, reply)

    def _secure(self, smtp: _SMTP | _SMTP_SSL) -> str:
        if self.server.security != Security.STARTTLS:
            return ""
        if not smtp.has_extn("starttls"):
            raise DeliveryError(
                "The server does not offer STARTTLS, which this configuration requires; "
                "refusing to continue in clear text."
            )
        code, reply = smtp.starttls(context=tls_context(self.settings.trusted_ca))
        self._hello(smtp)
        return _answer(code, reply)

    def _refuse_clear_text_credentials(self) -> None:
        server = self.server
        if (
            server.requires_auth
            and server.security == Security.NONE
            and not is_loopback(server.host)
        ):
            raise DeliveryError(
                "Refusing to send credentials over an unencrypted connection to "
                f"{server.host}; choose STARTTLS or implicit TLS.",
                permanent=True,
            )

    @sensitive_variables("password")
    def _authenticate(self, smtp: _SMTP | _SMTP_SSL) -> str:
        if not self.server.requires_auth:
            return ""
        if not smtp.has_extn("auth"):
            raise DeliveryError("The server does not offer authentication (AUTH).", permanent=True)
        if self.xoauth2 is not None:
            return self.xoauth2.authenticate(smtp)
        secret = self.settings.secrets.get("password")
        password = secret.reveal() if secret else ""
        code, reply = smtp.login(self.server.username, password)
        return _answer(code, reply)

    def _open(self) -> _SMTP | _SMTP_SSL:
        if self._connection is not None and time.monotonic() - self._last_used > STALE_AFTER:
            self._drop_if_dead()
        if self._connection is None:
            smtp = self._connect()
            try:
                self._hello(smtp)
                self._secure(smtp)
                self._authenticate(smtp)
            except BaseException:
                smtp.close()
                raise
            self._connection = smtp
        return self._connection

    def destination(self) -> str:
        return self.server.host

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.deadline = time.monotonic() + min(5.0, self.settings.send_timeout)
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    # Delivery ---------------------------------------------------------------

    def deliver(self, message: WireMessage) -> DeliveryResult:
        content = _content(message)
        try:
            smtp = self._open()
        except Exception as exc:
            error = _error_for_exception(exc)
            error.connection = True  # later messages to this server need not wait for it too
            raise error from None
        try:
            smtp.deadline = time.monotonic() + self.settings.send_timeout
            result = self._transaction(smtp, message, content)
        except Exception as exc:
            raise _error_for_exception(exc) from None
        self._last_used = time.monotonic()
        return result

    def _transaction(
        self, smtp: _SMTP | _SMTP_SSL, message: WireMessage, content: bytes
    ) -> DeliveryResult:
        recipients = list(message.recipients)
        if smtp.has_extn("pipelining"):
            mail, rcpts, data = _envelope_pipelined(smtp, message.envelope_from, recipients)
        else:
            mail, rcpts, data = _envelope_stepwise(smtp, message.envelope_from, recipients)
        if mail[0] != 250:
            _abandon(smtp, data)
            raise _error_for_reply("Sender refused", *mail)
        refused = {
            r: _answer(*reply)
            for r, reply in zip(recipients, rcpts, strict=True)
            if reply[0] not in (250, 251)
        }
        if len(refused) == len(recipients):
            _abandon(smtp, data)
            detail = "; ".join(f"{r}: {a}" for r, a in refused.items())
            raise DeliveryError(
                f"Every recipient was refused: {detail}",
                permanent=all(500 <= reply[0] < 600 for reply in rcpts),
            )
        if data is None or data[0] != 354:
            _abandon(smtp, data)
            raise _error_for_reply("Message refused", *(data or (554, b"DATA not accepted")))
        smtp.send(content)
        code, reply = smtp.getreply()
        if code != 250:
            raise _error_for_reply("Message refused", code, reply)
        return DeliveryResult(
            outcome=Outcome.DELIVERED,
            answer=_answer(code, reply),
            refused=refused,
            retry_recipients=tuple(
                r for r, reply in zip(recipients, rcpts, strict=True) if 400 <= reply[0] < 500
            ),
        )

    # Connection test ----------------------------------------------------------

    def probe(self) -> list[Step]:
        """Connect, greet, encrypt, authenticate and try the sender, then stop without sending."""
        steps: list[Step] = []
        if not self._step(steps, "Connect", self._check_connect):
            return steps
        smtp = self._connection
        try:
            for name, action in self._check_steps():
                if not self._step(steps, name, lambda action=action: action(smtp)):
                    break
        finally:
            self.close()
        return steps

    def _check_steps(self) -> list[tuple[str, Callable[[Any], str]]]:
        steps: list[tuple[str, Callable[[Any], str]]] = [("Say hello (EHLO)", self._check_hello)]
        if self.server.security != Security.NONE:
            steps.append(("Encrypt (TLS)", self._check_tls))
        if self.server.requires_auth:
            try:
                xoauth2 = self.xoauth2
            except DeliveryError as error:  # the stored key cannot even be read
                steps.append(("Get an access token", partial(_fail, error)))
            else:
                if xoauth2 is not None:
                    steps.append((xoauth2.step_name, lambda smtp: xoauth2.check_token()))
            steps.append(("Authenticate", self._authenticate))
        steps.append(("Sender accepted (MAIL FROM, then reset)", self._check_sender))
        return steps

    def _step(self, steps: list[Step], name: str, action: Callable[[], str]) -> bool:
        """Run one step and record it; returns whether it succeeded."""
        started = time.monotonic()
        try:
            answer = action()
        except Exception as exc:
            error = _error_for_exception(exc)
            hint = error.hint or hint_for(name, error.message, self.settings)
            steps.append(Step(name, False, ms_since(started), error.message, hint))
            return False
        steps.append(Step(name, True, ms_since(started), answer or "OK"))
        return True

    def _check_connect(self) -> str:
        self._connection = self._connect()  # so close() says QUIT however far the steps get
        return "Connected"

    def _check_hello(self, smtp: _SMTP | _SMTP_SSL) -> str:
        # The greeting is shown only now: the server has answered like an SMTP server.
        return f"{smtp.greeting} · {self._hello(smtp)}"

    def _check_tls(self, smtp: _SMTP | _SMTP_SSL) -> str:
        answer = self._secure(smtp) or "Encrypted from the first byte"
        sock = smtp.sock
        if isinstance(sock, ssl.SSLSocket):
            answer += f" ({sock.version()}, certificate verified for {self.server.host})"
        return answer

    def _check_sender(self, smtp: _SMTP | _SMTP_SSL) -> str:
        code, reply = smtp.mail(self.settings.envelope_sender)
        smtp.rset()
        if code != 250:
            raise _error_for_reply("Sender refused", code, reply)
        return _answer(code, reply)
