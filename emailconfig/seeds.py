"""The stages every installation starts with (seeded by migration 0002)."""

from __future__ import annotations

from typing import Any

SEEDED_STAGES = [
    ("Development", "development", 10, False),
    ("QA", "qa", 20, False),
    ("Production", "production", 30, True),
]


def seed_stages(stage_model: Any) -> None:
    """Create the seeded stages that are missing; safe to run again."""
    for name, slug, order, is_production in SEEDED_STAGES:
        stage_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order, "is_production": is_production}
        )
