"""A render process: renders the jobs it reads from its pipe, bounded by the OS.

Started by emailconfig/render_pool.py as `python -m emailconfig.render_child FD MEMORY_MB`.
It imports no Django, inherits no other file descriptors and no secrets from the
environment: it only ever holds the templates and the context of the job at hand.

On the pipe: the pool sends `(parts, context, seconds)` (see rendering.render_parts);
the child answers `("done", outcomes)`, `("retiring", outcomes)` when it has grown and
exits after answering, or `("failed", traceback)` for an error that is not the template's.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from emailconfig.rendering import compile_part, render_parts

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def address_space() -> int:
    """Bytes of address space in use: what RLIMIT_AS counts."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * PAGE_SIZE


def limit_cpu(seconds: float) -> None:
    """Let the next job use `seconds` of CPU (and a second's slack), then SIGXCPU ends the
    process: a backstop for when the pool that would kill it is gone."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(used + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard < 0 else min(soft, hard), hard))


def answer(parts: Any, context: Any, seconds: float) -> tuple[str, Any]:
    limit_cpu(seconds)
    try:
        return "done", render_parts(parts, context, seconds=seconds)
    except MemoryError:  # outside the template's own code: the process ends, the pool says why
        raise
    except Exception:
        return "failed", traceback.format_exc()


def serve(connection: Connection, memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on runserver is the portal's
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump core
    compile_part("{{ warm }}", html=True)  # Jinja's compiler, loaded before the baseline
    budget = memory_mb * 1024 * 1024
    baseline = address_space()
    resource.setrlimit(resource.RLIMIT_AS, (baseline + budget, baseline + budget))
    try:
        connection.send("ready")
        while True:
            verb, payload = answer(*connection.recv())
            # A render near the limit can leave the heap grown: a fresh process gets the
            # whole budget again.
            if verb == "done" and address_space() - baseline > budget // 2:
                verb = "retiring"
            connection.send((verb, payload))
            if verb != "done":
                return
            del payload  # nothing of a job is kept while the process waits for the next
    except (EOFError, OSError):  # the portal process closed its end: nothing left to do
        return
    except MemoryError:  # a job, or its answer, did not fit in the limit
        return


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
