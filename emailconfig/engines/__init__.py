"""Delivery engines, one module each, listed once here.

Adding an engine: a module with an `Engine` subclass, a line in `ENGINES`, a
choice in `emailconfig.models.Engine`, and a test file under tests/engines/.
"""

from __future__ import annotations

from emailconfig.delivery import DeliverySettings
from emailconfig.engines.base import DeliveryError, DeliveryResult, Engine, MessageError, Step
from emailconfig.engines.sendgrid import SendGridEngine
from emailconfig.engines.smtp import SMTPEngine
from emailconfig.models import Engine as EngineChoice

ENGINES: dict[str, type[Engine]] = {
    EngineChoice.SMTP: SMTPEngine,
    EngineChoice.SENDGRID: SendGridEngine,
}


def engine_for(settings: DeliverySettings) -> Engine:
    return ENGINES[settings.engine](settings)


__all__ = ["DeliveryError", "DeliveryResult", "Engine", "MessageError", "Step", "engine_for"]
