"""All models of the app, one module per concern."""

from emailconfig.models.activity import ConnectionTestWindow, DailyDeliveryCount
from emailconfig.models.admin_tokens import AdminToken, TokenScope
from emailconfig.models.audit import AuditAction, AuditEntry
from emailconfig.models.configurations import (
    App,
    AppliedConfiguration,
    AppliedQuerySet,
    ConfigurationVersion,
    DeliverySettings,
    EmailConfiguration,
    RecipientsMode,
    Stage,
    StageCoverage,
    TestRecipient,
)
from emailconfig.models.outbox import (
    CANCELLABLE_STATUSES,
    PENDING_STATUSES,
    RETRYABLE,
    WAITING_STATUSES,
    ApiToken,
    DeliveryAttempt,
    Message,
    MessageStatus,
    RateWindow,
    SinkMessage,
)
from emailconfig.models.roles import StageGrant, StageRole
from emailconfig.models.templates import EmailTemplate, Outcome, TestSend

__all__ = [
    "CANCELLABLE_STATUSES",
    "PENDING_STATUSES",
    "RETRYABLE",
    "WAITING_STATUSES",
    "AdminToken",
    "ApiToken",
    "App",
    "AppliedConfiguration",
    "AppliedQuerySet",
    "AuditAction",
    "AuditEntry",
    "ConfigurationVersion",
    "ConnectionTestWindow",
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
    "StageGrant",
    "StageRole",
    "TestRecipient",
    "TestSend",
    "TokenScope",
]
