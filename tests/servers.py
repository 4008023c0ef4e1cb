"""Real servers on loopback for the tests: aiosmtpd SMTP, a SendGrid stand-in, TLS certificates."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME, PASSWORD = "mailer", "s3cret-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Certificates ---------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_pem: str
    localhost: tuple[Path, Path]  # cert, key: valid for localhost and 127.0.0.1
    other_host: tuple[Path, Path]  # signed by the same CA, for mail.example.org only

    def server_context(self, which: tuple[Path, Path]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, which))
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> Certificates:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Stagemail Test CA"))
        .issuer_name(_name("Stagemail Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(stem: str, names: list[x509.GeneralName]) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(stem))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    return Certificates(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
        localhost=leaf(
            "localhost",
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        ),
        other_host=leaf("other", [x509.DNSName("mail.example.org")]),
    )


# SMTP -----------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        wire = self.content.replace(b"\r\n", b"\n")
        return message_from_bytes(wire, policy=policy.default)  # type: ignore[return-value]


@dataclass
class RecordingHandler:
    """Accepts everything unless told otherwise; records what it received."""

    received: list[Received] = field(default_factory=list)
    data_answer: str = "250 2.0.0 Ok: queued as TEST123"
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    refuse_sender: str = ""
    hang_seconds: float = 0.0
    pipelining: bool = False  # advertise PIPELINING (aiosmtpd reads pipelined commands anyway)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        if self.data_answer.startswith("250"):
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
        return self.data_answer


def authenticator(accept: bool = True):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            accept
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USERNAME
            and auth_data.password.decode() == PASSWORD
        )
        return AuthResult(success=ok, handled=False)

    return check


@dataclass
class RunningSMTP:
    port: int
    handler: RecordingHandler
    controller: Controller


@contextmanager
def smtp_server(
    handler: RecordingHandler | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool | None = None,
    port: int | None = None,
) -> Iterator[RunningSMTP]:
    """aiosmtpd on 127.0.0.1: plain, with STARTTLS (`tls`), or implicit TLS; AUTH optional."""
    handler = handler or RecordingHandler()
    kwargs: dict[str, Any] = {"decode_data": False}
    if tls is not None:
        kwargs.update(tls_context=tls)
    if auth is not None:
        kwargs.update(authenticator=authenticator(auth), auth_require_tls=False)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port or free_port(),
        ssl_context=implicit_tls,
        ready_timeout=5,
        server_hostname="localhost",
        **kwargs,
    )
    controller.start()
    try:
        yield RunningSMTP(controller.port, handler, controller)
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word: a hung server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def _raw_server(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback TCP server that hands each connection to `serve`, one at a time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                serve(conn, stop)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def trickling_server(
    line: bytes = b"220-still greeting you\r\n", every: float = 0.3
) -> Iterator[int]:
    """Sends a never-ending multi-line banner, one line at a time: slow but never silent."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn.sendall(line)
            except OSError:
                break
            stop.wait(every)

    with _raw_server(serve) as port:
        yield port


@contextmanager
def scripted_server(answers: list[bytes]) -> Iterator[int]:
    """Sends the first answer on connecting, and each next one after a line from the client."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(2)
        try:
            for number, answer in enumerate(answers):
                if number:
                    conn.recv(4096)
                conn.sendall(answer)
            conn.recv(4096)
        except OSError:
            pass

    with _raw_server(serve) as port:
        yield port


# SendGrid stand-in ------------------------------------------------------------

# How the stand-in treats its connections, as servers and proxies in front of SendGrid do.
KEEP_ALIVE = "keep-alive"  # HTTP/1.1 with Content-Length, connection kept open
CLOSE = "close"  # answers with `Connection: close`, then closes
HTTP_1_0 = "http/1.0"  # an HTTP/1.0 answer without Content-Length: the body ends at the close
IDLE_CLOSE = "idle-close"  # keep-alive promised, yet closed once the answer is sent
CHUNKED = "chunked"  # HTTP/1.1 with Transfer-Encoding: chunked, connection kept open


@dataclass
class SendGridStandIn:
    """Answers like SendGrid's v3 API and records every request it received."""

    port: int = 0
    scheme: str = "http"
    requests: list[dict[str, Any]] = field(default_factory=list)
    connections: set[tuple[str, int]] = field(default_factory=set)
    status: int = 202
    reason: str = ""
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: str = KEEP_ALIVE
    # Requests after this many are recorded, then the connection drops without an answer.
    answer_limit: int | None = None
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def endpoint(self) -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}/v3/mail/send"

    def wait_until_closed(self) -> None:
        """Wait until the server has closed one more connection."""
        assert self.closed.acquire(timeout=5), "the stand-in closed no connection"


def _handler_for(stand_in: SendGridStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0" if stand_in.behaviour == HTTP_1_0 else "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            stand_in.connections.add(self.client_address)
            stand_in.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(raw) if raw else None,
                }
            )
            if stand_in.answer_limit is not None and len(stand_in.requests) > stand_in.answer_limit:
                self.close_connection = True
                return
            status = stand_in.status
            if self.path.endswith("/v3/scopes"):
                status = 200 if status < 300 else status
            body = stand_in.body.encode() or (b'{"scopes":["mail.send"]}' if status == 200 else b"")
            self.send_response(status, stand_in.reason or None)
            for name, value in {"X-Message-Id": "sg-test-id", **stand_in.headers}.items():
                self.send_header(name, value)
            behaviour = stand_in.behaviour
            if behaviour == CLOSE:
                self.send_header("Connection", "close")
            if behaviour == CHUNKED:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (body[:5], body[5:]):
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
                return
            if behaviour != HTTP_1_0:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if behaviour in (CLOSE, IDLE_CLOSE):
                self.close_connection = True

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _StandInServer(ThreadingHTTPServer):
    stand_in: SendGridStandIn

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.stand_in.closed.release()


@contextmanager
def sendgrid_stand_in(
    behaviour: str = KEEP_ALIVE, *, tls: ssl.SSLContext | None = None
) -> Iterator[SendGridStandIn]:
    """A SendGrid stand-in on loopback: plain HTTP, or HTTPS for localhost with `tls`."""
    stand_in = SendGridStandIn(behaviour=behaviour, scheme="https" if tls else "http")
    server = _StandInServer(("127.0.0.1", 0), _handler_for(stand_in))
    server.stand_in = stand_in
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


@contextmanager
def scripted_http_server(answer: bytes, *, every: float = 0.0) -> Iterator[int]:
    """Reads a request, sends `answer` as given (with `every`: one byte at a time), closes."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        pieces = [bytes([byte]) for byte in answer] if every else [answer]
        for piece in pieces:
            if stop.wait(every):
                break
            try:
                conn.sendall(piece)
            except OSError:
                break

    with _raw_server(serve) as port:
        yield port


@contextmanager
def tracking_pixel_server() -> Iterator[tuple[int, list[str]]]:
    """A remote image host on loopback: (port, the paths anyone fetched from it)."""
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], fetched
    finally:
        server.shutdown()
        server.server_close()
