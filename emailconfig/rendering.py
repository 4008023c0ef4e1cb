"""Sandboxed, bounded Jinja2 for templates that admins write.

Limits: source size, output size and render time. Time is enforced where a
template can spin without producing output: every `range()` step checks the
deadline, and so does every chunk of output. Sequence repetition and powers
are size-checked before they run, and the sandbox (immutable) blocks access
to internals and mutation of the data it is given.
"""

from __future__ import annotations

import operator
import time
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_SOURCE = 100_000  # characters per template part
MAX_OUTPUT = 1_000_000  # characters per rendered part
MAX_RANGE = 100_000
MAX_SECONDS = 2.0
MAX_POWER = 1_000

_deadline: ContextVar[float] = ContextVar("render_deadline", default=float("inf"))


class RenderError(Exception):
    """A template cannot be compiled or rendered; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line else message)
        self.message = message
        self.line = line


class _TimeLimitExceeded(Exception):
    pass


def _check_deadline() -> None:
    if time.monotonic() > _deadline.get():
        raise _TimeLimitExceeded


class _BoundedRange:
    """range() that checks the render deadline at every step."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise SecurityError(f"range() is limited to {MAX_RANGE:,} items.")

    def __len__(self) -> int:
        return len(self._range)

    def __iter__(self) -> Iterator[int]:
        for value in self._range:
            _check_deadline()
            yield value

    def __reversed__(self) -> Iterator[int]:
        for value in reversed(self._range):
            _check_deadline()
            yield value


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                size = _sized(sequence)
                if size is not None and isinstance(times, int) and size * times > MAX_OUTPUT:
                    raise SecurityError("That repetition would be too large.")
            return operator.mul(left, right)
        if isinstance(right, int | float) and abs(right) > MAX_POWER:
            raise SecurityError("That power is too large.")
        return operator.pow(left, right)


def _environment(*, autoescape: bool) -> _BoundedSandbox:
    env = _BoundedSandbox(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals.pop("lipsum", None)  # unbounded text generation
    env.globals["range"] = _BoundedRange
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@dataclass(frozen=True)
class CompiledPart:
    template: Any  # jinja2.Template


@lru_cache(maxsize=512)
def compile_part(source: str, *, html: bool) -> CompiledPart:
    """Compile once per distinct source; raises RenderError with the line of a syntax error."""
    if len(source) > MAX_SOURCE:
        raise RenderError(f"The template is longer than {MAX_SOURCE:,} characters.")
    try:
        return CompiledPart((_HTML if html else _TEXT).from_string(source))
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", exc.lineno) from None


def _template_line(exc: BaseException) -> int | None:
    """The template line an error happened on, from Jinja's rewritten traceback."""
    lines = [
        f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def render_part(source: str, context: dict[str, Any], *, html: bool) -> str:
    """Render one part (subject, text or HTML) within the limits, or raise RenderError."""
    compiled = compile_part(source, html=html)
    token = _deadline.set(time.monotonic() + MAX_SECONDS)
    chunks: list[str] = []
    size = 0
    try:
        for chunk in compiled.template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderError(f"The output is longer than {MAX_OUTPUT:,} characters.")
            _check_deadline()
            chunks.append(chunk)
    except _TimeLimitExceeded:
        raise RenderError(f"Rendering took longer than {MAX_SECONDS:g} seconds.") from None
    except SecurityError as exc:
        raise RenderError(f"Not allowed in a template: {exc}", _template_line(exc)) from None
    except UndefinedError as exc:
        raise RenderError(exc.message or "undefined value", _template_line(exc)) from None
    except TemplateError as exc:
        raise RenderError(str(exc), _template_line(exc)) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}", _template_line(exc)) from None
    finally:
        _deadline.reset(token)
    return "".join(chunks)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_template(subject: str, text: str, html: str, context: dict[str, Any]) -> Rendered:
    """Render all three parts; errors name the part ("HTML body, line 3: …")."""
    parts = {}
    for label, source, is_html in (
        ("Subject", subject, False),
        ("Text body", text, False),
        ("HTML body", html, True),
    ):
        try:
            parts[label] = render_part(source, context, html=is_html) if source else ""
        except RenderError as exc:
            raise PartError(label, exc) from None
    return Rendered(parts["Subject"].strip(), parts["Text body"], parts["HTML body"])


class PartError(RenderError):
    """A RenderError that says which part of the template failed."""

    def __init__(self, part: str, error: RenderError) -> None:
        self.part = part
        where = f"{part}, line {error.line}" if error.line else part
        super().__init__(f"{where}: {error.message}")
        self.message = error.message
        self.line = error.line
