"""Every stage's configuration as one document: stages, configurations with their whole version
history, the version each app applied per stage, and templates. Deterministic (the same data
gives the same text), and secrets are references to environment variables, never values.

A secret's variable is named after its configuration and field (`QA_MAIL_SMTP_PASSWORD`); a
version whose secret differs from the current one gets its own (`..._V2`), so the document says
where each version's secret comes from without saying what it is.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from emailconfig.exports import variable_name
from emailconfig.models import (
    App,
    AppliedConfiguration,
    ConfigurationVersion,
    EmailConfiguration,
    EmailTemplate,
    Stage,
)

FORMAT_VERSION = 2  # 2: a version's engine options and secrets apart from its settings
FORMATS = ("json", "yaml")


def document() -> dict[str, Any]:
    return {
        "stagemail": FORMAT_VERSION,
        "stages": [
            {
                "slug": stage.slug,
                "name": stage.name,
                "order": stage.order,
                "production": stage.is_production,
            }
            for stage in Stage.objects.order_by("order", "name")
        ],
        "configurations": [
            _configuration(configuration)
            for configuration in EmailConfiguration.objects.order_by("name")
        ],
        "apps": [_app(app) for app in App.objects.order_by("slug")],
        "templates": [
            {
                "key": template.key,
                "name": template.name,
                "subject": template.subject,
                "text_body": template.text_body,
                "html_body": template.html_body,
                "sample_data": template.sample_data,
            }
            for template in EmailTemplate.objects.order_by("key")
        ],
    }


def _configuration(configuration: EmailConfiguration) -> dict[str, Any]:
    history = list(configuration.versions.order_by("number"))
    current = history[-1] if history else None
    return {
        "name": configuration.name,
        "stages": list(
            configuration.coverages.order_by("stage__order", "stage__name").values_list(
                "stage__slug", flat=True
            )
        ),
        "versions": [_version(version, current) for version in history],
    }


def _version(version: ConfigurationVersion, current: ConfigurationVersion | None) -> dict:
    settings = {
        name: getattr(version, name)
        for name in ConfigurationVersion.setting_names()
        if name not in ("options", "secrets")
    }
    return {
        "number": version.number,
        "name": version.name,
        "stages": version.stage_names,
        "settings": settings,
        "options": version.options,
        "secrets": {
            option: f"${{{_secret_variable(version, current, option)}}}"
            for option in sorted(version.secrets)
        },
        "test_recipients": version.test_recipients,
    }


def _secret_variable(
    version: ConfigurationVersion, current: ConfigurationVersion | None, option: str
) -> str:
    variable = variable_name(version.configuration.name, f"{version.engine}_{option}".upper())
    newest = current.secrets.get(option) if current and current.engine == version.engine else None
    if version == current or version.secrets[option].same_plaintext_as(newest):
        return variable
    return f"{variable}_V{version.number}"


def _app(app: App) -> dict[str, Any]:
    applied = AppliedConfiguration.objects.filter(app=app).select_related(
        "stage", "version__configuration"
    )
    return {
        "slug": app.slug,
        "name": app.name,
        "description": app.description,
        "stages": {
            row.stage.slug: {
                "configuration": row.version.configuration.name,
                "version": row.version.number,
                "pinned": row.pinned,
                "rate_limit_per_minute": row.rate_limit_per_minute,
            }
            for row in sorted(applied, key=lambda row: (row.stage.order, row.stage.name))
        },
    }


def dump(data: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
