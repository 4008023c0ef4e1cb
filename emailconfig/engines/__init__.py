"""Delivery engines, one module each, listed once here.

Adding an engine: a module with an `Engine` subclass (its `key`, `label`, an
`EngineOptions` form of its options, and deliver/probe/close), a line in `ENGINES`,
and a test file under tests/engines/. See the README, "Engines".
"""

from __future__ import annotations

from emailconfig.delivery import DeliverySettings
from emailconfig.engines.base import DeliveryError, DeliveryResult, Engine, MessageError, Step
from emailconfig.engines.options import EngineOptions
from emailconfig.engines.sendgrid import SendGridEngine
from emailconfig.engines.smtp import SMTPEngine

ENGINES: dict[str, type[Engine]] = {engine.key: engine for engine in (SMTPEngine, SendGridEngine)}


def engine_for(settings: DeliverySettings) -> Engine:
    return ENGINES[settings.engine](settings)


def options_of(engine: str) -> type[EngineOptions] | None:
    """The options form of an engine named by its key, or None for no such engine."""
    registered = ENGINES.get(engine)
    return registered.Options if registered else None


__all__ = [
    "ENGINES",
    "DeliveryError",
    "DeliveryResult",
    "Engine",
    "EngineOptions",
    "MessageError",
    "Step",
    "engine_for",
    "options_of",
]
