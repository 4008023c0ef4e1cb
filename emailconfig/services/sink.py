"""Clearing what the local development sink received."""

from __future__ import annotations

from emailconfig.models import SinkMessage


def delete_received(message: SinkMessage) -> None:
    message.delete()


def delete_all_received() -> int:
    deleted, _ = SinkMessage.objects.all().delete()
    return deleted
