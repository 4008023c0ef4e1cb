"""One request at a time over http.client's kept-alive connection, the answer under one deadline.

http.client writes the requests and parses the answers; this layer adds what a mail API
needs on top. A POST sent twice is an email delivered twice, so the caller must know
whether the server can have seen a request at all: a kept-alive connection the server
has closed is noticed before a request is written, and a failed write is told apart from
a missing answer. http.client's timeout applies to each read, so a server trickling its
status line could hold a worker forever; here every send and receive gets the time left
of one deadline. A body is kept up to a limit; a longer one is dropped with its connection.
Connections open through the outbound policy (`emailconfig.outbound`), as HTTPS.
"""

from __future__ import annotations

import http.client
import io
import selectors
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any

from emailconfig import outbound


class BadResponse(Exception):
    """The server's bytes are not an HTTP/1.x answer."""


class NotSent(OSError):
    """Writing the request failed, so the server cannot have received all of it."""

    def __init__(self, cause: OSError, *, reused: bool) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.reused = reused  # on a kept-alive connection: it may have closed just now


class ClosedWithoutAnswer(OSError):
    """The request was sent whole and the server closed before the first byte of an answer."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes = b""

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


class _DeadlineSocket:
    """The socket as http.client sees it: every send and receive gets the time left."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = 0.0

    def arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete answer in time")
        self.sock.settimeout(remaining)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self.arm()
            view = view[self.sock.send(view[:65536]) :]

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self.sock.close()  # like a socket's: an answer still being read keeps it open


class _DeadlineReader(io.RawIOBase):
    def __init__(self, owner: _DeadlineSocket) -> None:
        self.owner = owner
        self.raw = owner.sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self.owner.arm()
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Response(http.client.HTTPResponse):
    def _read_status(self) -> tuple[str, int, str]:
        # http.client skips 100 Continue only; any other interim answer (103 Early
        # Hints, say) is followed by the real one too.
        while True:
            version, status, reason = super()._read_status()
            if not 101 < status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)


class _DeadlineConnection:
    sock: Any
    response_class = _Response

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # http.client connects with this, then wraps TLS for the host name it was given.
        self._create_connection = _checked_connection

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock = _DeadlineSocket(self.sock)


class _HTTP(_DeadlineConnection, http.client.HTTPConnection):
    pass


class _HTTPS(_DeadlineConnection, http.client.HTTPSConnection):
    pass


class HTTPConnection:
    """A connection opened on the first request and reused while the server keeps it open."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        *,
        connect_timeout: float,
        context: ssl.SSLContext | None = None,
    ) -> None:
        # The connect timeout limits connecting and the TLS handshake; the deadline the rest.
        self._http: _HTTP | _HTTPS = (
            _HTTPS(host, port, timeout=connect_timeout, context=context)
            if scheme == "https"
            else _HTTP(host, port, timeout=connect_timeout)
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        timeout: float,
        keep: int,
    ) -> Response:
        """Send one request and read its whole answer within `timeout` seconds.

        At most `keep` bytes of the body are kept; a longer body is not read to its end
        and the connection is closed instead. Raises NotSent, ClosedWithoutAnswer,
        BadResponse, TimeoutError or another OSError.
        """
        try:
            return self._exchange(method, path, headers, body, timeout, keep)
        except BaseException:
            self.close()
            raise

    def _exchange(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
        keep: int,
    ) -> Response:
        connection = self._http
        reused = connection.sock is not None  # http.client drops it when the server closes
        if reused and not _still_open(connection.sock.sock):
            connection.close()
            reused = False
        if connection.sock is None:
            connection.connect()  # here, so that a failed connect is not a failed write
        connection.sock.deadline = time.monotonic() + timeout
        try:
            connection.request(method, path, body, headers)
        except TimeoutError:
            raise  # the server is there but not reading: no reason to try again at once
        except OSError as exc:
            raise NotSent(exc, reused=reused) from exc
        try:
            response = connection.getresponse()
        except http.client.RemoteDisconnected:
            raise ClosedWithoutAnswer(
                "the server closed the connection without answering"
            ) from None
        except http.client.HTTPException as exc:
            raise BadResponse(_described(exc)) from None
        try:
            kept = response.read(keep)
            # A bounded read that meets the end before Content-Length is not an error to
            # http.client; only an unbounded one raises IncompleteRead.
            if response.length and len(kept) < keep:
                raise http.client.IncompleteRead(kept, response.length)
        except (http.client.HTTPException, OSError) as exc:
            if 200 <= response.status < 300:
                # Accepted: the status line is the server's decision, and trying again
                # would deliver twice. The rest of the body is not worth the connection.
                connection.close()
                return Response(response.status, response.reason, response.msg, b"")
            if isinstance(exc, http.client.HTTPException):
                raise BadResponse(_described(exc)) from None
            raise
        if not response.isclosed():  # a body longer than `keep`, or one ended by a close
            response.close()
            connection.close()
        return Response(response.status, response.reason, response.msg, kept)


def _checked_connection(
    address: tuple[str, int], timeout: float, source_address: Any = None
) -> socket.socket:
    return outbound.connect(*address, timeout, outbound.HTTPS)


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection may carry another request.

    A server that closed it has sent its FIN (or TLS alert) by now, which makes the
    socket readable; anything readable on an idle HTTP/1.1 connection means it is
    done. Checked before writing, so no request is ever written into a closed one.
    """
    pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
    if not pending:
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            if not selector.select(0):
                return True
    sock.settimeout(0)
    try:
        sock.recv(1)  # data or the end: either way the connection is done
    except (ssl.SSLWantReadError, BlockingIOError):
        return True  # only TLS housekeeping (a session ticket) was waiting
    except OSError:
        pass
    return False


def _described(exc: http.client.HTTPException) -> str:
    # Words of our own: http.client's messages quote the server's bytes.
    if isinstance(exc, http.client.IncompleteRead):
        return "the answer was cut short"
    if isinstance(exc, http.client.LineTooLong):
        return "a line of the answer is too long"
    if isinstance(exc, http.client.UnknownProtocol):
        return "not HTTP/1.x"
    if isinstance(exc, http.client.BadStatusLine):
        return "no HTTP status line"
    return "the answer is malformed"
