"""A render process: renders the jobs it reads from its pipe, bounded by the OS.

Started by emailconfig/render_pool.py as `python -m emailconfig.render_child FD MEMORY_MB`.
It imports no Django and inherits neither the portal's environment nor its files but
standard error: it only ever holds the templates and the context of the job at hand. It
bounds memory and time; what a template may reach is bounded by Jinja2's sandbox.

On the pipe: the pool sends `(parts, context, seconds)` (see rendering.render_parts);
the child answers in JSON, never pickle, so that what runs templates cannot send the
portal more than text: `["done", outcomes]`; `["retiring", outcomes]` when the job took
more than half its memory, and exits; or `["failed", traceback]` for an error that is
not the template's.
"""

from __future__ import annotations

import json
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


class Limits:
    """This process's limits: its address space, and CPU time job by job."""

    def __init__(self, memory_mb: int) -> None:
        self.memory = memory_mb * 1024 * 1024
        with open("/proc/self/statm") as statm:  # the address space in use: what RLIMIT_AS counts
            in_use = int(statm.read().split()[0]) * PAGE_SIZE
        resource.setrlimit(resource.RLIMIT_AS, (in_use + self.memory, in_use + self.memory))
        self.start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        self.cpu_soft = -1

    def allow_cpu(self, seconds: float) -> None:
        """Let the next job use `seconds` of CPU (and a second's slack), then SIGXCPU ends
        the process: a backstop for when the pool that would kill it is gone."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
        if self.cpu_hard >= 0:
            soft = min(soft, self.cpu_hard)
        if soft != self.cpu_soft:  # most jobs take milliseconds: no system call for them
            resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))
            self.cpu_soft = soft

    def grown(self) -> bool:
        """A job took more than half the memory: a fresh process gets all of it again."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return peak - self.start_rss > self.memory // 2


def answer(parts: Any, context: Any, seconds: float) -> tuple[str, Any]:
    try:
        outcomes = render_parts(parts, context, seconds=seconds)
        return "done", [outcome.to_json() for outcome in outcomes]
    except MemoryError:  # outside the template's own code: the process ends, the pool says why
        raise
    except Exception:
        return "failed", traceback.format_exc()


def serve(connection: Connection, memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on runserver is the portal's
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump core
    compile_part("{{ warm }}", html=True)  # Jinja's compiler, loaded before the limits
    limits = Limits(memory_mb)
    try:
        connection.send_bytes(b"ready")
        while True:
            parts, context, seconds = connection.recv()
            limits.allow_cpu(seconds)
            verb, payload = answer(parts, context, seconds)
            del context  # nothing of a job is kept while the process waits for the next
            if verb == "done" and limits.grown():
                verb = "retiring"
            connection.send_bytes(json.dumps([verb, payload]).encode())
            if verb != "done":
                return
            del payload
    except (EOFError, OSError):  # the portal process closed its end: nothing left to do
        return
    except MemoryError:  # a job, or its answer, did not fit in the limit
        return


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
