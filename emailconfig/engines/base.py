"""What every delivery engine has in common: the result, the error, the base class."""

from __future__ import annotations

import logging
import ssl
import time
import traceback
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

from emailconfig.delivery import DeliverySettings
from emailconfig.engines.options import EngineOptions
from emailconfig.engines.redaction import redact, secret_forms
from emailconfig.models import Outcome

if TYPE_CHECKING:
    from emailconfig.composer import WireMessage

log = logging.getLogger("stagemail.engines")


class DeliveryError(Exception):
    """A failure to deliver; `permanent` says whether trying again can help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        connection: bool = False,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint  # what to change, when the cause is known; the connection test shows it
        self.permanent = permanent
        self.retry_after = retry_after
        self.connection = connection  # the server could not be reached at all


class MessageError(DeliveryError):
    """This message cannot be sent as stored (its bytes or envelope are malformed), found
    before anything went to the server: it fails for good, alone, and the connection
    stays open for the next message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message. `answer` is the server's own words, never a secret."""

    outcome: Outcome
    answer: str
    duration_ms: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> server's answer
    # Refused for now (4xx) while others were accepted: to be tried again on their own.
    retry_recipients: tuple[str, ...] = ()
    retry_after: float | None = None
    connection_failed: bool = False  # later messages to the same server would fail alike

    @property
    def delivered(self) -> bool:
        return self.outcome == Outcome.DELIVERED

    @classmethod
    def failed(cls, error: DeliveryError, duration_ms: int) -> DeliveryResult:
        return cls(
            outcome=Outcome.PERMANENT if error.permanent else Outcome.TEMPORARY,
            answer=error.message,
            duration_ms=duration_ms,
            retry_after=error.retry_after,
            connection_failed=error.connection,
        )


@dataclass(frozen=True)
class Step:
    """One step of a connection test, as shown to the admin."""

    name: str
    ok: bool
    duration_ms: int
    answer: str
    hint: str = ""


class Engine:
    """Delivers composed messages, their stored bytes as they are; one instance keeps one
    connection for a batch.

    Use as a context manager: the connection opens on the first message and
    closes on exit. Subclasses implement the three methods at the end.
    """

    key: ClassVar[str]  # how configurations name it: `engine = "smtp"`
    label: ClassVar[str]  # how the portal names it
    Options: ClassVar[type[EngineOptions]]  # its options: fields, rules, secrets

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: WireMessage) -> DeliveryResult:
        """Deliver one message; failures come back as a result, never as an exception."""
        started = time.monotonic()
        try:
            result = self.deliver(message)
        except MessageError as error:
            return self._redacted(DeliveryResult.failed(error, ms_since(started)))
        except DeliveryError as error:
            self.close()  # a failed exchange leaves the connection in an unknown state
            return self._redacted(DeliveryResult.failed(error, ms_since(started)))
        except Exception as exc:
            self.close()
            # The stack without the exception's text, which may quote a secret.
            log.error(
                "unexpected %s in %s:\n%s",
                type(exc).__name__,
                type(self).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            error = DeliveryError(f"Unexpected error in the delivery engine ({type(exc).__name__})")
            return self._redacted(DeliveryResult.failed(error, ms_since(started)))
        return self._redacted(replace(result, duration_ms=ms_since(started)))

    def check_connection(self) -> list[Step]:
        """The connection test's steps, with any secret the server repeated removed."""
        return [
            replace(step, answer=self.redact(step.answer), hint=self.redact(step.hint))
            for step in self.probe()
        ]

    @cached_property
    def _secret_forms(self) -> tuple[str, ...]:
        return secret_forms(self.settings)

    def redact(self, text: str) -> str:
        """`text` without the configuration's secrets, in any form a server may echo."""
        return redact(text, self._secret_forms)

    def _redacted(self, result: DeliveryResult) -> DeliveryResult:
        return replace(
            result,
            answer=self.redact(result.answer),
            refused={r: self.redact(answer) for r, answer in result.refused.items()},
        )

    # Subclasses implement these ------------------------------------------------

    def deliver(self, message: WireMessage) -> DeliveryResult:
        raise NotImplementedError("an engine must define deliver(), raising DeliveryError")

    def probe(self) -> list[Step]:
        raise NotImplementedError("an engine must define probe(), the connection test's steps")

    def close(self) -> None:
        raise NotImplementedError("an engine must define close(), safe to call twice")

    def destination(self) -> str:
        raise NotImplementedError("an engine must define destination(): the server it uses")


def tls_context(trusted_ca: str = "") -> ssl.SSLContext:
    """Verification always on; a configuration may add its own CA to the system's."""
    context = ssl.create_default_context()
    if trusted_ca.strip():
        context.load_verify_locations(cadata=trusted_ca)
    return context


def ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
