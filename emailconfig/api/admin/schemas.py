"""Shapes of the admin API's answers (and the bodies that are not a form's fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict


class Strict(Schema):
    """A request body: a name the API does not know is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class StageOut(Schema):
    slug: str
    name: str
    is_production: bool
    order: int
    editable: bool = Field(description="Whether this token may change things on the stage.")


class SecretState(Schema):
    stored: bool


class RecipientOut(Schema):
    email: str
    name: str


class ConfigurationOut(Schema):
    id: int
    name: str
    stages: list[str] = Field(description="Slugs of the stages it covers.")
    version: int | None = Field(description="The newest version's number.")
    settings: dict[str, Any] = Field(description="Every setting but the secrets.")
    secrets: dict[str, SecretState] = Field(description="Write-only: only whether one is stored.")
    test_recipients: list[RecipientOut]


class SavedOut(Schema):
    configuration: ConfigurationOut
    new_version: int | None = Field(description="Null when nothing changed.")
    notes: list[str] = Field(description="What saving removed, e.g. credentials no longer used.")


class RestoreIn(Strict):
    based_on: int = Field(description="The current version's number, as an edit sends it.")
    confirm_stage: str = Field("", description="On a production stage: its name, exactly.")


class VersionOut(Schema):
    id: int
    number: int
    name: str
    stages: list[str] = Field(description="Names of the stages it covered.")
    created_at: datetime
    created_by: str | None
    settings: dict[str, Any]
    secrets: dict[str, SecretState]
    test_recipients: list[RecipientOut]


class ChangeOut(Schema):
    field: str
    old: str
    new: str


class DiffOut(Schema):
    from_version: int
    to_version: int
    changes: list[ChangeOut]


class AppliedOut(Schema):
    stage: str
    configuration_id: int
    version_id: int
    version: int
    pinned: bool
    behind: bool = Field(description="A newer version exists and the app is not pinned.")


class AppOut(Schema):
    slug: str
    name: str
    description: str
    applied: list[AppliedOut] = Field(description="On the stages this token sees.")


class AppIn(Strict):
    name: str
    slug: str = Field("", description="Blank: derived from the name.")
    description: str = ""


class ApplyIn(Strict):
    version: int = Field(description="The id of a version of the configuration covering it.")
    confirm_stage: str = Field("", description="On a production stage: its name, exactly.")


class TokenOut(Schema):
    id: int
    prefix: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedOut(TokenOut):
    token: str = Field(description="Shown this once; only a hash is kept.")


class RotateIn(Strict):
    grace_seconds: int = Field(
        86400, ge=0, le=604800, description="How long the old tokens keep working."
    )


class TemplateOut(Schema):
    key: str
    name: str
    subject: str
    text_body: str
    html_body: str
    sample_data: dict[str, Any]
    updated_at: datetime | None
    updated_by: str | None


class TemplateIn(Strict):
    """Fields left out keep their value (on an edit) or their default."""

    key: str = Field(None)
    name: str = Field(None)
    subject: str = Field(None)
    text_body: str = Field(None)
    html_body: str = Field(None)
    sample_data: dict[str, Any] = Field(None)


class MessageSummary(Schema):
    id: UUID
    status: str
    app: str
    stage: str
    subject: str
    created_at: datetime
    sent_at: datetime | None
    last_error: str


class Page(Schema):
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class MessageFilters(Schema):
    app: str = Field("", description="An app's slug.")
    stage: str = Field("", description="A stage's slug.")
    status: str = Field(
        "",
        description="queued, sending, sent, deferred, failed, cancelled, or "
        "pending (queued, deferred or sending).",
    )
    q: str = Field("", description="Words of the subject, a recipient's address, or a Message-ID.")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=100_000)
