"""What the benchmarks share: a free loopback port, the portal under gunicorn, and clients
running side by side."""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def per_second(n: int, client: Callable[[], None], clients: int) -> float:
    """`n` messages a second, sent by `clients` threads each running `client` until the
    shared work is done."""
    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return n / (time.perf_counter() - started)


def start_gunicorn(
    port: int,
    workers: int,
    *,
    env: dict[str, str] | None = None,
    stderr: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """The portal as production runs it (threads, keep-alive), once its sign-in page answers."""
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "portal.wsgi:application",
            *("-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread"),
            *("--threads", "2", "--keep-alive", "30", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stderr=stderr,
    )
    for _ in range(200):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request(
                "GET", "/accounts/login/"
            )
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the portal did not start under gunicorn")
