"""Builders for test data that go through the same services as the portal."""

from __future__ import annotations

import itertools
from typing import Any

from emailconfig.models import App, ConfigurationVersion, EmailConfiguration, Stage
from emailconfig.services import configurations as services

_names = itertools.count(1)


def stage(slug: str) -> Stage:
    return Stage.objects.get(slug=slug)


def configuration(
    *stage_slugs: str,
    author: Any = None,
    test_recipients: list[dict[str, str]] | None = None,
    **settings: Any,
) -> EmailConfiguration:
    defaults: dict[str, Any] = {
        "name": f"Configuration {next(_names)}",
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": 1025,
        "from_email": "noreply@example.com",
    }
    config = EmailConfiguration(**{**defaults, **settings})
    services.save_configuration(
        config,
        stages=[stage(slug) for slug in stage_slugs or ("development",)],
        test_recipients=test_recipients or [],
        author=author,
    )
    return config


def edit(config: EmailConfiguration, author: Any = None, **changes: Any) -> ConfigurationVersion:
    for name, value in changes.items():
        setattr(config, name, value)
    version = services.save_configuration(
        config,
        stages=[c.stage for c in config.coverages.select_related("stage")],
        test_recipients=[r.as_dict() for r in config.test_recipients.all()],
        author=author,
    )
    assert version is not None, "the edit changed nothing, so no version was recorded"
    return version


def app(name: str = "Billing") -> App:
    return App.objects.create(name=name, slug=name.lower().replace(" ", "-"))
