"""Sandboxed, bounded Jinja2 for templates that admins write: the checks.

This module runs inside the render processes (emailconfig/render_pool.py), which the
operating system bounds in memory and CPU; the checks here are the first line. They
limit source size, output size and render time. Time is enforced where a template can
spin without producing output: every `range()` step checks the deadline, and so does
every chunk of output. Sequence repetition and powers are size-checked before they run,
and the sandbox (immutable) blocks access to internals and mutation of the data it is
given. One deadline covers every part of a request.
"""

from __future__ import annotations

import functools
import operator
import re
import time
import traceback
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import (
    Environment,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_SOURCE = 100_000  # characters per template part
MAX_OUTPUT = 1_000_000  # characters per rendered part
MAX_RANGE = 100_000
MAX_POWER = 1_000
MAX_WIDTH = 10_000  # format widths, |center, |indent
MAX_INT_BITS = 100_000

_deadline: ContextVar[float] = ContextVar("render_deadline", default=float("inf"))


TOO_MUCH_MEMORY = "Rendering needed too much memory."


def too_long(seconds: float) -> str:
    return f"Rendering took longer than {seconds:g} seconds."


class RenderError(Exception):
    """A template cannot be compiled or rendered; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line else message)
        self.message = message
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:  # it crosses the pipe from a render process
        return type(self), (self.message, self.line)


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


_WIDTH = re.compile(r"(\d{5,})")  # a width or precision of 10,000 or more in a format spec
# A width taken from the arguments: "%*d" and "{:{}}" (a field nested in a format spec).
_ARGUMENT_WIDTH = re.compile(r"%[-#0 +]*(\d*\.)?\*|\{[^{}]*:[^{}]*\{")
# String methods whose output can dwarf their input; templates have bounded filters instead.
_GROWING_STR_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"}
)
MAX_WORDWRAP_INPUT = 100_000  # textwrap slows down with the square of long words


def _check_format(template: str) -> None:
    if any(int(number) > MAX_WIDTH for number in _WIDTH.findall(template)):
        raise SecurityError("That format width is too large.")
    if _ARGUMENT_WIDTH.search(template):
        raise SecurityError("A format width must be written in the format, not passed in.")


def _bounded_filter(name: str, original: Any) -> Any:
    """Wrap a filter so it checks the deadline and refuses outputs too large to build."""

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        lead = 0  # filters may take the environment or a context first
        while lead < len(args) and isinstance(args[lead], Environment | EvalContext | Context):
            lead += 1
        values = args[lead:]
        subject = values[0] if values else None
        numbers = [v for v in (*values[1:], *kwargs.values()) if isinstance(v, int)]
        if name in ("center", "indent", "wordwrap", "truncate") and any(
            n > MAX_WIDTH for n in numbers
        ):
            raise SecurityError(f"|{name} is limited to a width of {MAX_WIDTH:,}.")
        if name == "format" and isinstance(subject, str):
            _check_format(subject)
        if name == "indent" and isinstance(subject, str) and len(values) > 1:
            width = values[1] if isinstance(values[1], int) else len(str(values[1]))
            if len(subject) + subject.count("\n") * width > MAX_OUTPUT:
                raise SecurityError("That indentation would be too large.")
        if name == "wordwrap" and isinstance(subject, str) and len(subject) > MAX_WORDWRAP_INPUT:
            raise SecurityError(f"|wordwrap takes at most {MAX_WORDWRAP_INPUT:,} characters.")
        if name == "replace" and len(values) >= 3 and isinstance(subject, str):
            growth = subject.count(str(values[1])) * len(str(values[2]))
            if len(subject) + growth > MAX_OUTPUT:
                raise SecurityError("That replacement would be too large.")
        if name == "join" and subject is not None and not isinstance(subject, str):
            items = list(subject)
            separator = str(values[1]) if len(values) > 1 else str(kwargs.get("d", ""))
            total = len(items) * len(separator)
            total += sum(_sized(item) or 0 for item in items if isinstance(item, str))
            if total > MAX_OUTPUT:
                raise SecurityError("That join would be too large.")
            args = (*args[:lead], items, *args[lead + 1 :])
        return original(*args, **kwargs)

    return bounded


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator_name == "+":
            sizes = (_sized(left), _sized(right))
            if None not in sizes and sum(sizes) > MAX_OUTPUT:  # type: ignore[arg-type]
                raise SecurityError("That sum would be too large.")
            return operator.add(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                _check_format(left)
            return operator.mod(left, right)
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                size = _sized(sequence)
                if size is not None and isinstance(times, int) and size * times > MAX_OUTPUT:
                    raise SecurityError("That repetition would be too large.")
            both_ints = isinstance(left, int) and isinstance(right, int)
            if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError("That number would be too large.")
            return operator.mul(left, right)
        if isinstance(right, int | float) and abs(right) > MAX_POWER:
            raise SecurityError("That power is too large.")
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise SecurityError("That number would be too large.")
        return operator.pow(left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()  # macros calling themselves, methods called in loops
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _GROWING_STR_METHODS:
            raise SecurityError(f"str.{name}() is not available; use the |{name} filter.")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:  # "…".format / format_map: check the widths first
            _check_format(value.__self__)
        return wrapped

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _check_deadline()
            yield item

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Make every {% for %} loop check the deadline at each step."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None
            )
        return tree


def _environment(*, autoescape: bool) -> _BoundedSandbox:
    env = _BoundedSandbox(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals.pop("lipsum", None)  # unbounded text generation
    env.globals["range"] = _BoundedRange
    env.filters = {name: _bounded_filter(name, f) for name, f in env.filters.items()}
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
    except RecursionError:
        raise RenderError("The template is nested too deeply.") from None
    except MemoryError:
        raise RenderError(TOO_MUCH_MEMORY) from None


def _template_line(exc: BaseException) -> int | None:
    """The template line an error happened on, from Jinja's rewritten traceback."""
    lines = [
        f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def _render(compiled: CompiledPart, context: dict[str, Any], seconds: float) -> str:
    """Render one compiled part before the deadline in force, or raise RenderError."""
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
        raise RenderError(too_long(seconds)) from None
    except SecurityError as exc:
        raise RenderError(f"Not allowed in a template: {exc}", _template_line(exc)) from None
    except UndefinedError as exc:
        raise RenderError(exc.message or "undefined value", _template_line(exc)) from None
    except TemplateError as exc:
        raise RenderError(str(exc), _template_line(exc)) from None
    except MemoryError:
        raise RenderError(TOO_MUCH_MEMORY) from None
    except Exception as exc:  # raised by the template's own code: the template's error
        raise RenderError(f"{type(exc).__name__}: {exc}", _template_line(exc)) from None
    return "".join(chunks)


@dataclass(frozen=True)
class PartOutcome:
    """One part's text, or its error; `compiled` is False when the source itself is wrong."""

    text: str = ""
    error: RenderError | None = None
    compiled: bool = True

    def to_json(self) -> dict[str, Any]:
        error = self.error and {"message": self.error.message, "line": self.error.line}
        return {"text": self.text, "error": error, "compiled": self.compiled}

    @classmethod
    def from_json(cls, data: Any) -> PartOutcome:
        """An outcome a render process sent; ValueError unless it has exactly that shape
        (what runs templates is not trusted to send more than text)."""
        if not isinstance(data, dict) or data.keys() != {"text", "error", "compiled"}:
            raise ValueError("not a render outcome")
        match data:
            case {"text": str(text), "error": None, "compiled": bool(compiled)}:
                return cls(text=text, compiled=compiled)
            case {
                "text": "",
                "error": {"message": str(message), "line": int() | None as line},
                "compiled": bool(compiled),
            }:
                return cls(error=RenderError(message, line), compiled=compiled)
        raise ValueError("not a render outcome")


def render_parts(
    parts: Sequence[tuple[str, bool]], context: dict[str, Any] | None, *, seconds: float
) -> list[PartOutcome]:
    """Compile each (source, is_html) part and, given a context, render them all within
    one deadline of `seconds`. Every part gets its outcome, so a form can mark each."""
    outcomes = []
    token = _deadline.set(time.monotonic() + seconds)
    try:
        for source, html in parts:
            try:
                compiled = compile_part(source, html=html)
            except RenderError as exc:
                outcomes.append(PartOutcome(error=exc, compiled=False))
                continue
            try:
                text = _render(compiled, context, seconds) if context is not None else ""
            except RenderError as exc:
                outcomes.append(PartOutcome(error=exc))
                continue
            outcomes.append(PartOutcome(text=text))
    finally:
        _deadline.reset(token)
    return outcomes


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class PartError(RenderError):
    """A RenderError that says which part of the template failed."""

    def __init__(self, part: str, error: RenderError) -> None:
        self.part = part
        where = f"{part}, line {error.line}" if error.line else part
        super().__init__(f"{where}: {error.message}")
        self.message = error.message
        self.line = error.line

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.part, RenderError(self.message, self.line))
