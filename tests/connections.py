"""What a test's own thread resolves and connects to, seen through Python's audit events.

No mock: `socket.getaddrinfo` and `socket.connect` raise audit events that say which name
was resolved and which address was connected to. A connection to anything but loopback
is stopped before it leaves the machine, so a test of a refusal never reaches the network
even when the code under test would have connected.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Seen:
    thread: int = field(default_factory=threading.get_ident)
    resolved: list[str] = field(default_factory=list)  # names given to getaddrinfo
    connected: list[tuple[str, int]] = field(default_factory=list)  # (address, port)


_watching: Seen | None = None


def _audit(event: str, args: tuple) -> None:
    seen = _watching
    if seen is None or threading.get_ident() != seen.thread:
        return
    if event == "socket.getaddrinfo":
        seen.resolved.append(args[0] if isinstance(args[0], str) else args[0].decode())
    elif event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple):
            seen.connected.append((address[0], address[1]))
            if not ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
                raise ConnectionAbortedError("stopped by the test: not a loopback address")


_installed = False


@contextmanager
def watching() -> Iterator[Seen]:
    """Record what the calling thread resolves and connects to inside the block."""
    global _watching, _installed
    if not _installed:  # an audit hook cannot be removed, so one serves every test
        sys.addaudithook(_audit)
        _installed = True
    _watching = seen = Seen()
    try:
        yield seen
    finally:
        _watching = None
