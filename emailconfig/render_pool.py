"""Where templates are rendered: in child processes that the operating system bounds.

`render()` is the one entry point for the portal's template rendering (template save,
preview, test-send, API accept). It sends every part of a request to one render
process in one message, and that process renders them within one time budget. Each
render process (emailconfig/render_child.py) limits its own address space
(RLIMIT_AS) and CPU time (RLIMIT_CPU), so a template that builds a huge value gets a
MemoryError there, not in the portal. The pool kills and replaces a process that
overruns the wall-clock deadline or dies, and a process retires itself when it has grown.

The pool is made lazily in each portal process, so gunicorn's workers each make their
own after the fork, and it is safe under threads: at most STAGEMAIL_RENDER_PROCESSES
renders run at once, the others wait for a free process.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

from django.conf import settings

from emailconfig.rendering import (
    TOO_MUCH_MEMORY,
    PartError,
    PartOutcome,
    Rendered,
    RenderError,
    render_parts,
    too_long,
)

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("stagemail.rendering")
GRACE = 0.25  # seconds past the budget for the pipe, and for the child's own deadline
START_SECONDS = 30.0  # an interpreter start on a busy machine
PARTS = (("Subject", False), ("Text body", False), ("HTML body", True))


class _Overran(Exception):
    pass


class _Died(Exception):
    pass


def _child_environment() -> dict[str, str]:
    """PATH and Python's own variables: the portal's settings stay out of a process that
    runs templates."""
    kept = {k: v for k, v in os.environ.items() if k == "PATH" or k.startswith("PYTHON")}
    kept["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), kept.get("PYTHONPATH")]))
    return kept


class RenderProcess:
    """One render process and the pipe to it; started at once, awaited at first use."""

    def __init__(self, memory_mb: int) -> None:
        ours, theirs = Pipe()
        fd = theirs.fileno()
        self.process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
            [sys.executable, "-m", "emailconfig.render_child", str(fd), str(memory_mb)],
            pass_fds=(fd,),
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.connection = ours
        self.started = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def render(self, job: tuple[Any, ...], wait: float) -> tuple[str, Any]:
        if not self.started:
            self._await_start()
        try:
            self.connection.send(job)
            if not self.connection.poll(wait):
                raise _Overran
            answer = self.connection.recv_bytes()
        except (EOFError, OSError):
            raise _Died from None
        try:
            verb, payload = json.loads(answer)
            if verb == "failed":
                return verb, str(payload)
            if verb in ("done", "retiring"):
                return verb, [PartOutcome.from_json(item) for item in payload]
        except (ValueError, TypeError):
            pass
        return "failed", f"An answer out of protocol: {answer[:200]!r}"

    def _await_start(self) -> None:
        try:
            ready = self.connection.poll(START_SECONDS) and self.connection.recv_bytes() == b"ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError("A render process did not start; its error is in the log.")
        self.started = True

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.connection.close()

    def close(self) -> None:
        """End it the quiet way: at the end of its pipe it exits."""
        self.connection.close()
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()

    def forget(self) -> None:
        """In a forked copy of the portal: drop the pipe, leave the process to its owner."""
        self.connection.close()


class RenderPool:
    """`processes` render processes, each allowed `memory_mb` more than it starts with,
    and `seconds` per request for all of its parts."""

    def __init__(self, processes: int, memory_mb: int, seconds: float) -> None:
        self.memory_mb = memory_mb
        self.seconds = seconds
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(processes)
        self._free = [RenderProcess(memory_mb) for _ in range(processes)]
        self._busy: set[RenderProcess] = set()

    def render(
        self, parts: Sequence[tuple[str, bool]], context: dict[str, Any] | None
    ) -> list[PartOutcome]:
        with self._slots:
            process = self._take()
            try:
                verb, payload = process.render(
                    (tuple(parts), context, self.seconds), self.seconds + GRACE
                )
            except _Overran:
                self._replace(process)
                raise RenderError(too_long(self.seconds)) from None
            except _Died:  # the limits stopped it where Python could not raise MemoryError
                self._replace(process)
                raise RenderError(TOO_MUCH_MEMORY) from None
            except BaseException:  # interrupted mid-conversation: its state is unknown
                self._replace(process)
                raise
            if verb == "failed":
                self._replace(process)
                raise RuntimeError(f"A render process failed:\n{payload}")
            if verb == "retiring":
                self._replace(process)
            else:
                self._give_back(process)
            return payload

    def pids(self) -> list[int]:
        """The render processes' ids, for `ps` and tests."""
        with self._lock:
            return [p.pid for p in (*self._free, *self._busy)]

    def _take(self) -> RenderProcess:
        with self._lock:  # one that has started, rather than a replacement still starting
            process = next((p for p in self._free if p.started), None)
            if process is None and self._free:
                process = self._free[0]
            if process is not None:
                self._free.remove(process)
                self._busy.add(process)
        if process is None:  # this slot's replacement could not be started: try again now
            process = RenderProcess(self.memory_mb)
            with self._lock:
                self._busy.add(process)
            return process
        if process.alive():
            return process
        self._replace(process)  # it died while idle, not by this request
        return self._take()

    def _give_back(self, process: RenderProcess) -> None:
        with self._lock:
            self._busy.discard(process)
            self._free.append(process)

    def _replace(self, process: RenderProcess) -> None:
        process.kill()
        with self._lock:
            self._busy.discard(process)
        try:
            fresh = RenderProcess(self.memory_mb)
        except OSError:  # out of processes or memory for now: the next render starts one
            log.exception("could not start a render process; the next render tries again")
            return
        with self._lock:
            self._free.append(fresh)

    def close(self) -> None:
        with self._lock:
            processes, self._free = self._free, []
        for process in processes:
            process.close()

    def forget(self) -> None:
        for process in (*self._free, *self._busy):
            process.forget()
        self._free, self._busy = [], set()


_pool: RenderPool | None = None
_pool_lock = threading.Lock()


def _the_pool() -> RenderPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = RenderPool(
                settings.STAGEMAIL_RENDER_PROCESSES,
                settings.STAGEMAIL_RENDER_MEMORY_MB,
                settings.STAGEMAIL_RENDER_SECONDS,
            )
            atexit.register(_pool.close)
        return _pool


def _after_fork() -> None:
    """A forked portal process (a gunicorn worker) makes its own pool when it needs one."""
    global _pool, _pool_lock
    if _pool is not None:
        _pool.forget()
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def render(parts: Sequence[tuple[str, bool]], context: dict[str, Any] | None) -> list[PartOutcome]:
    """Compile each (source, is_html) part and, given a context, render them, all within
    one time and memory budget; a RenderError when the render process was stopped."""
    if settings.STAGEMAIL_RENDER_PROCESSES == 0:  # no OS limits: for measurements only
        return render_parts(parts, context, seconds=settings.STAGEMAIL_RENDER_SECONDS)
    return _the_pool().render(parts, context)


def render_template(subject: str, text: str, html: str, context: dict[str, Any]) -> Rendered:
    """Render all three parts; errors name the part ("HTML body, line 3: …")."""
    sources = (subject, text, html)
    outcomes = iter(
        render([(s, h) for s, (_, h) in zip(sources, PARTS, strict=True) if s], context)
    )
    texts = []
    for source, (label, _) in zip(sources, PARTS, strict=True):
        outcome = next(outcomes) if source else PartOutcome()
        if outcome.error:
            raise PartError(label, outcome.error)
        texts.append(outcome.text)
    return Rendered(texts[0].strip(), texts[1], texts[2])
