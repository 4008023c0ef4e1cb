"""The frozen settings a message is composed and delivered with.

Built from a stored configuration version; secrets stay `Secret` objects until an
engine reveals them at the moment it authenticates. Composer and engines take
this, never a model instance, so they need no database and any version can be
sent exactly as it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from emailconfig.fields import Secret
from emailconfig.models import ConfigurationVersion, RecipientsMode


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    @classmethod
    def from_stored(cls, item: dict[str, str]) -> Address:
        """An address kept in a JSON field as {"email": ..., "name": ...}."""
        return cls(item["email"], item.get("name", ""))


@dataclass(frozen=True)
class DeliverySettings:
    label: str  # "Team mail v3", for answers shown to admins
    engine: str
    sender: Address
    reply_to: Address | None
    subject_prefix: str
    recipients_mode: str
    test_recipients: tuple[Address, ...]
    options: Mapping[str, Any]  # the engine's own, as its module defines them
    secrets: Mapping[str, Secret]  # the engine's secrets, by option
    trusted_ca: str
    connect_timeout: float
    send_timeout: float
    envelope_from: str = ""  # SMTP's MAIL FROM when set; blank uses the sender's address
    version_id: int | None = None

    @property
    def envelope_sender(self) -> str:
        """SMTP's MAIL FROM, where bounces go."""
        return self.envelope_from or self.sender.email

    @property
    def redirects_to_test_list(self) -> bool:
        return self.recipients_mode == RecipientsMode.TEST_LIST

    @classmethod
    def from_version(cls, version: ConfigurationVersion) -> DeliverySettings:
        return cls(
            label=str(version),
            engine=version.engine,
            sender=Address(version.from_email, version.from_name),
            reply_to=Address(version.reply_to) if version.reply_to else None,
            subject_prefix=version.subject_prefix,
            recipients_mode=version.recipients_mode,
            test_recipients=tuple(Address.from_stored(r) for r in version.test_recipients),
            options=MappingProxyType(dict(version.options)),
            secrets=MappingProxyType(dict(version.secrets)),
            trusted_ca=version.trusted_ca,
            connect_timeout=float(version.connect_timeout),
            send_timeout=float(version.send_timeout),
            envelope_from=version.envelope_from,
            version_id=version.pk,
        )
