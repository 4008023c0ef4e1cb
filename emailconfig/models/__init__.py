"""All models of the app, one module per concern."""

from emailconfig.models.activity import DailyDeliveryCount
from emailconfig.models.configurations import (
    App,
    AppliedConfiguration,
    AppliedQuerySet,
    ConfigurationVersion,
    DeliverySettings,
    EmailConfiguration,
    Engine,
    RecipientsMode,
    Security,
    Stage,
    StageCoverage,
    TestRecipient,
)
from emailconfig.models.outbox import (
    PENDING_STATUSES,
    ApiToken,
    Attachment,
    DeliveryAttempt,
    Message,
    MessageStatus,
    RateWindow,
    SinkMessage,
)
from emailconfig.models.templates import EmailTemplate, Outcome, TestSend

__all__ = [
    "PENDING_STATUSES",
    "ApiToken",
    "App",
    "AppliedConfiguration",
    "AppliedQuerySet",
    "Attachment",
    "ConfigurationVersion",
    "DailyDeliveryCount",
    "DeliveryAttempt",
    "DeliverySettings",
    "EmailConfiguration",
    "EmailTemplate",
    "Engine",
    "Message",
    "MessageStatus",
    "Outcome",
    "RateWindow",
    "RecipientsMode",
    "Security",
    "SinkMessage",
    "Stage",
    "StageCoverage",
    "TestRecipient",
    "TestSend",
]
