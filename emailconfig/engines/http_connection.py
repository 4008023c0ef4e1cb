"""One HTTP/1.1 request at a time over a kept-alive connection, the answer under one deadline.

Why not http.client: it gives the status line and headers only a per-read timeout, it
hands its socket to the response when the server closes after answering, and it cannot
tell whether a kept-alive connection is still open before a request is written. A POST
to a mail API sent twice is an email delivered twice, so the caller must know whether
the server can have seen a request at all.
"""

from __future__ import annotations

import re
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field

MAX_LINE = 8192
MAX_HEADERS = 100
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
_LINE_BREAK = re.compile(r"[\r\n\0]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


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
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


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
        self.tls = scheme == "https"
        self.host = host
        self.port = port or (443 if self.tls else 80)
        self.connect_timeout = connect_timeout
        self.context = context
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._deadline = 0.0

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer = b""
        if sock is not None:
            sock.close()

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
        reused = self._sock is not None
        if reused and not self._still_open():
            self.close()
            reused = False
        if self._sock is None:
            self._sock = self._connect()
        self._deadline = time.monotonic() + timeout
        try:
            self._send(self._request_bytes(method, path, headers, body))
        except TimeoutError:
            raise  # the server is there but not reading: no reason to try again at once
        except OSError as exc:
            self.close()
            raise NotSent(exc, reused=reused) from exc
        response, reusable = self._read_response(method, keep)
        if not reusable:
            self.close()
        return response

    # Connection ---------------------------------------------------------------

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request is one write
        if not self.tls:
            return sock
        try:
            context = self.context or ssl.create_default_context()
            return context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise

    def _still_open(self) -> bool:
        """Whether an idle kept-alive connection may carry another request.

        A server that closed it has sent its FIN (or TLS alert) by now, which makes the
        socket readable; anything readable on an idle HTTP/1.1 connection means it is
        done. Checked before writing, so no request is ever written into a closed one.
        """
        sock = self._sock
        assert sock is not None  # noqa: S101  (checked by the caller)
        if self._buffer:
            return False
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

    # Writing ------------------------------------------------------------------

    def _host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    def _request_bytes(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> bytes:
        if any(_LINE_BREAK.search(part) for part in (method, path, *headers, *headers.values())):
            raise ValueError("the request line or a header carries a line break")
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header()}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b"")

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._arm()
            assert self._sock is not None  # noqa: S101  (connected by the caller)
            sent = self._sock.send(view[:65536])
            view = view[sent:]

    # Reading ------------------------------------------------------------------

    def _arm(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0 or self._sock is None:
            raise TimeoutError("no complete answer in time")
        self._sock.settimeout(remaining)

    def _fill(self) -> bool:
        """Receive more bytes into the buffer; False at the end of the stream."""
        self._arm()
        assert self._sock is not None  # noqa: S101  (armed just above)
        chunk = self._sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise BadResponse("a line of the answer is too long")
            if not self._fill():
                raise BadResponse("the answer was cut short")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def _exactly(self, size: int, keep: int) -> bytes:
        while len(self._buffer) < min(size, keep):
            if not self._fill():
                raise BadResponse("the answer was cut short")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data[:keep]

    def _read_response(self, method: str, keep: int) -> tuple[Response, bool]:
        while True:
            if not self._buffer and not self._fill():
                raise ClosedWithoutAnswer("the server closed the connection without answering")
            match = _STATUS_LINE.fullmatch(self._line())
            if match is None:
                raise BadResponse("no HTTP status line")
            minor, status = match[1], int(match[2])
            headers = self._headers()
            if not 100 <= status < 200 or status == 101:
                break  # 1xx answers are interim: the real one follows
        reason = (match[3] or b"").decode("latin-1").strip()
        reusable = minor == b"1" and "close" not in _tokens(headers.get("connection", ""))
        if method == "HEAD" or status in (204, 304) or status < 200:
            return Response(status, reason, headers), reusable
        body, complete = self._body(headers, keep)
        return Response(status, reason, headers, body), reusable and complete

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._line().rstrip(b"\r\n")
            if not line:
                return headers
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or line[:1] in b" \t":
                raise BadResponse("a header line is malformed")
            key = name.decode("latin-1").lower()
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        raise BadResponse("too many header lines")

    def _body(self, headers: dict[str, str], keep: int) -> tuple[bytes, bool]:
        """The body per RFC 9112 6.3, and whether it was read to its end."""
        if "transfer-encoding" in headers:
            if _tokens(headers["transfer-encoding"])[-1:] == ["chunked"]:
                return self._chunked(keep)
            return self._until_close(keep), False
        if "content-length" in headers:
            values = set(_tokens(headers["content-length"]))
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise BadResponse("the Content-Length is not a number")
            size = int(values.pop())
            return self._exactly(size, keep), size <= keep
        return self._until_close(keep), False

    def _chunked(self, keep: int) -> tuple[bytes, bool]:
        kept = b""
        while True:
            match = _CHUNK_SIZE.fullmatch(self._line())
            if match is None:
                raise BadResponse("a chunk size is malformed")
            size = int(match[1], 16)
            if size == 0:
                while self._line().strip():  # trailer fields, not used
                    pass
                return kept, True
            if len(kept) + size > keep:
                return kept + self._exactly(size, keep - len(kept)), False
            kept += self._exactly(size, size)
            if self._line().strip():
                raise BadResponse("a chunk is longer than its size")

    def _until_close(self, keep: int) -> bytes:
        while len(self._buffer) < keep and self._fill():
            pass
        return self._buffer[:keep]


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]
