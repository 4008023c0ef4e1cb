"""Configuration as code: one deterministic document, secrets as references, whole histories."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from emailconfig.models import EmailTemplate, Stage
from emailconfig.services import configurations as services
from tests import factories

pytestmark = pytest.mark.django_db


def _export(*args: str) -> str:
    out = StringIO()
    call_command("export_configurations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def installation():
    config = factories.configuration(
        "qa",
        name="QA mail",
        smtp_requires_auth=True,
        smtp_security="starttls",
        smtp_username="mailer",
        smtp_password="first-secret",
    )
    factories.edit(config, smtp_password="second-secret")
    factories.edit(config, subject_prefix="[QA]")
    app = factories.app("Billing")
    services.apply_version(app, factories.stage("qa"), config.versions.get(number=2), by=None)
    EmailTemplate.objects.create(key="hello", name="Hello", subject="Hi {{ name }}", text_body="x")
    return config


def test_the_document_holds_stages_histories_applied_versions_and_templates(installation):
    document = json.loads(_export())
    assert [s["slug"] for s in document["stages"]] == list(
        Stage.objects.order_by("order").values_list("slug", flat=True)
    )
    [configuration] = document["configurations"]
    assert configuration["name"] == "QA mail" and configuration["stages"] == ["qa"]
    assert [v["number"] for v in configuration["versions"]] == [1, 2, 3]
    assert configuration["versions"][2]["settings"]["subject_prefix"] == "[QA]"
    assert document["apps"] == [
        {
            "slug": "billing",
            "name": "Billing",
            "description": "",
            "stages": {
                "qa": {
                    "configuration": "QA mail",
                    "version": 2,
                    "pinned": True,
                    "rate_limit_per_minute": None,
                }
            },
        }
    ]
    assert document["templates"][0]["key"] == "hello"


def test_secrets_are_references_per_configuration_and_version_never_values(installation):
    text = _export()
    assert "first-secret" not in text and "second-secret" not in text
    versions = json.loads(text)["configurations"][0]["versions"]
    assert [v["secrets"] for v in versions] == [
        {"smtp_password": "${QA_MAIL_SMTP_PASSWORD_V1}"},  # differs from the current one
        {"smtp_password": "${QA_MAIL_SMTP_PASSWORD}"},
        {"smtp_password": "${QA_MAIL_SMTP_PASSWORD}"},
    ]
    assert "smtp_password" not in versions[0]["settings"]


def test_the_export_is_deterministic_and_yaml_says_the_same(installation, tmp_path):
    assert _export() == _export()
    target = tmp_path / "stagemail.yaml"
    call_command("export_configurations", "--format", "yaml", "--output", str(target))
    assert yaml.safe_load(target.read_text()) == json.loads(_export())
