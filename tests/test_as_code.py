"""Configuration as code: one deterministic document, secrets as references, whole histories."""

from __future__ import annotations

import copy
import json
import tempfile
from io import StringIO
from pathlib import Path

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
    EmailTemplate.objects.create(
        key="hello", name="Hello", subject="Hi {{ name }}", text_body="x", sample_data={"name": "A"}
    )
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
        {"password": "${QA_MAIL_SMTP_PASSWORD_V1}"},  # differs from the current one
        {"password": "${QA_MAIL_SMTP_PASSWORD}"},
        {"password": "${QA_MAIL_SMTP_PASSWORD}"},
    ]
    assert "smtp_password" not in versions[0]["settings"]
    assert "password" not in versions[0]["options"]
    assert versions[0]["options"]["username"] == "mailer"


def test_the_export_is_deterministic_and_yaml_says_the_same(installation, tmp_path):
    assert _export() == _export()
    target = tmp_path / "stagemail.yaml"
    call_command("export_configurations", "--format", "yaml", "--output", str(target))
    assert yaml.safe_load(target.read_text()) == json.loads(_export())


ENVIRON = {
    "QA_MAIL_SMTP_PASSWORD": "second-secret",
    "QA_MAIL_SMTP_PASSWORD_V1": "first-secret",
}


def _wipe() -> None:
    """Back to an empty installation: the seeded stages only."""
    from emailconfig.models import (
        App,
        AppliedConfiguration,
        ConfigurationVersion,
        EmailConfiguration,
        StageCoverage,
    )

    AppliedConfiguration.objects.all().delete()
    App.objects.all().delete()
    StageCoverage.objects.all().delete()
    ConfigurationVersion.objects.all().delete()
    EmailConfiguration.objects.all().delete()
    EmailTemplate.objects.all().delete()


def test_export_apply_on_an_empty_install_and_export_again_gives_the_same_document(
    installation,
):
    from emailconfig.services import apply_document

    factories.configuration(
        "development", name="Dev mail", engine="sendgrid", sendgrid_api_key="SG.dev"
    )
    before = _export()
    _wipe()
    lines = apply_document.apply(
        json.loads(before), {**ENVIRON, "DEV_MAIL_SENDGRID_API_KEY": "SG.dev"}, by=None
    )
    assert "+ configuration QA mail: v1–v3" in lines
    assert _export() == before
    from emailconfig.models import EmailConfiguration

    qa = EmailConfiguration.objects.get(name="QA mail")
    assert qa.versions.get(number=1).secrets["password"].reveal() == "first-secret"
    assert qa.secrets["password"].reveal() == "second-secret"
    dev = EmailConfiguration.objects.get(name="Dev mail")
    assert dev.secrets["api_key"].reveal() == "SG.dev"
    assert (
        apply_document.apply(
            json.loads(before), ENVIRON | {"DEV_MAIL_SENDGRID_API_KEY": "SG.dev"}, by=None
        )
        == []
    )


def test_the_plan_prints_what_would_change_and_changes_nothing(installation, monkeypatch):
    document = json.loads(_export())
    document["configurations"][0]["versions"].append(
        {**copy.deepcopy(document["configurations"][0]["versions"][-1]), "number": 4}
    )
    document["configurations"][0]["versions"][-1]["settings"]["subject_prefix"] = "[Q]"
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    path = Path(tempfile.mkdtemp()) / "stagemail.json"
    path.write_text(json.dumps(document))
    out = StringIO()
    call_command("apply_configurations", str(path), "--plan", stdout=out)
    assert "~ configuration QA mail: v4" in out.getvalue()
    assert installation.versions.count() == 3
    call_command("apply_configurations", str(path), stdout=StringIO())
    assert installation.versions.get(number=4).subject_prefix == "[Q]"


def test_a_rewritten_history_or_a_missing_secret_changes_nothing(installation):
    from emailconfig.services import apply_document

    document = json.loads(_export())
    document["configurations"][0]["versions"][0]["options"]["port"] = 2525
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    assert refused.value.problems == [
        "configurations[0].versions[0]: differs from version 1 stored here; a history is "
        "never rewritten (add a version instead)."
    ]
    _wipe()
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(json.loads(_export_of(document)), {}, by=None)
    assert any(
        "set the environment variable QA_MAIL_SMTP_PASSWORD_V1" in p for p in refused.value.problems
    )
    from emailconfig.models import EmailConfiguration

    assert not EmailConfiguration.objects.exists()


def _export_of(document: dict) -> str:
    return json.dumps(document)


def test_a_malformed_document_names_each_problem_and_changes_nothing():
    from emailconfig.services import apply_document

    document = {
        "stagemail": 2,
        "stages": [{"slug": "staging"}],
        "configurations": [{"name": "X", "versions": [{"number": 1}]}, "not an object"],
    }
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, {}, by=None)
    assert refused.value.problems[0].startswith("stages[0]: malformed (KeyError: 'name')")
    assert any(p.startswith("configurations[1]: malformed") for p in refused.value.problems)
    assert not Stage.objects.filter(slug="staging").exists()
    with pytest.raises(apply_document.Refused, match="not a Stagemail document"):
        apply_document.apply(["nope"], {}, by=None)
    # A document of format 1 (engine columns among the settings) is refused as such.
    with pytest.raises(apply_document.Refused, match="of format 1, written before engine"):
        apply_document.apply({**document, "stagemail": 1}, {}, by=None)
    assert not Stage.objects.filter(slug="staging").exists()


def test_a_document_that_clashes_with_the_rules_names_each_problem(installation):
    from emailconfig.services import apply_document

    document = json.loads(_export())
    document["stages"][0]["name"] = "QA"  # a second stage named QA
    document["configurations"][0]["stages"] = ["qa", "staging"]
    document["apps"][0]["stages"]["development"] = document["apps"][0]["stages"]["qa"]
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    problems = refused.value.problems
    assert problems[0].startswith("stages[0]: clashes with what is stored")
    assert "configurations: no stage staging to cover." in problems
    del document["stages"][0]
    document["configurations"][0]["stages"] = ["qa"]
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    assert refused.value.problems == [
        "apps[0].stages.development: “QA mail” does not cover Development; only a "
        "configuration that covers a stage can be applied there."
    ]


def _with_version_4(document: dict, **options) -> dict:
    """The document with a fourth version of QA mail, its options changed as given."""
    versions = document["configurations"][0]["versions"]
    version = copy.deepcopy(versions[-1]) | {"number": 4}
    version["options"] |= options
    versions.append(version)
    return document


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"port": "587"}, "options.port: Give this option as 587."),
        ({"requires_auth": "false"}, "options.requires_auth: Give this option as false."),
        ({"port": [587]}, "options.port: Enter a whole number."),
        ({"security": ["tls"]}, "options.security: Select a valid choice."),
    ],
)
def test_options_of_the_wrong_type_are_refused_not_stored_as_given(installation, options, problem):
    """Stored as given, "false" would turn authentication on and "587" compare unequal."""
    from emailconfig.services import apply_document

    document = _with_version_4(json.loads(_export()), **options)
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    assert any(
        p.startswith(f"configurations[0].versions[3].{problem}") for p in refused.value.problems
    )
    assert installation.versions.count() == 3


def test_options_and_secrets_of_a_sign_in_not_used_are_refused(installation):
    """Only what applies is stored: a password without authentication is not kept."""
    from emailconfig.services import apply_document

    document = _with_version_4(json.loads(_export()), requires_auth=False)
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    assert set(refused.value.problems) == {
        "configurations[0].versions[3].options.sign_in: not used with these options.",
        "configurations[0].versions[3].options.username: not used with these options.",
        "configurations[0].versions[3].secrets.password: not used with these options.",
    }
    assert installation.versions.count() == 3


def test_a_sign_in_left_empty_is_refused_not_stored(installation):
    """The form reads an empty sign-in as a password; stored as given, it is no sign-in the
    engine or the configuration list knows."""
    from emailconfig.services import apply_document

    document = _with_version_4(json.loads(_export()), sign_in="")
    with pytest.raises(apply_document.Refused) as refused:
        apply_document.apply(document, ENVIRON, by=None)
    assert 'configurations[0].versions[3].options.sign_in: Give this option as "password".' in (
        refused.value.problems
    )
    assert installation.versions.count() == 3
