"""Applying a configuration-as-code document (emailconfig/as_code.py): plan, then change it all
in one transaction, or nothing.

The document is the truth for what it names: stages, configurations, apps and templates are
created or updated to match. What it does not name is kept (and said so). A configuration's
history is append-only here too: the versions a document shares with the database must be
equal, and the ones it adds are recorded after them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from emailconfig import audit
from emailconfig.as_code import FORMAT_VERSION
from emailconfig.audit import Who
from emailconfig.engines import options_of
from emailconfig.forms.templates import EmailTemplateForm
from emailconfig.models import (
    App,
    AppliedConfiguration,
    AuditAction,
    ConfigurationVersion,
    EmailConfiguration,
    EmailTemplate,
    Stage,
    StageCoverage,
    TestRecipient,
)
from emailconfig.services import templates as template_services

REFERENCE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")
TEMPLATE_FIELDS = ("name", "subject", "text_body", "html_body", "sample_data")
FROM_DOCUMENT = {"from_document": True}


class Refused(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Plan:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def plan(document: Any, environ: Mapping[str, str]) -> Plan:
    """What applying would change, as lines; nothing is written."""
    result = Plan()
    try:
        with transaction.atomic():
            result.lines = _apply(document, environ, by=None)
            transaction.set_rollback(True)
    except Refused as refused:
        result.problems = refused.problems
    return result


@transaction.atomic
def apply(document: Any, environ: Mapping[str, str], *, by: Who) -> list[str]:
    """Change everything the document names, in one transaction; Refused changes nothing."""
    return _apply(document, environ, by=by)


def _apply(document: Any, environ: Mapping[str, str], *, by: Who) -> list[str]:
    if isinstance(document, dict) and document.get("stagemail") == 1:
        raise Refused(
            [
                "stagemail: this document is of format 1, written before engine options had "
                "their own place; export it again with this release (export_configurations)."
            ]
        )
    if not isinstance(document, dict) or document.get("stagemail") != FORMAT_VERSION:
        raise Refused([f"stagemail: this is not a Stagemail document of format {FORMAT_VERSION}."])
    lines: list[str] = []
    problems: list[str] = []
    coverage: dict[str, str] = {}

    def each(section: str, apply_one: Callable[[Any, str], list[str]]) -> None:
        for index, item in enumerate(document.get(section) or []):
            where = f"{section}[{index}]"
            try:
                with transaction.atomic():  # a refused item leaves the others' work usable
                    lines.extend(apply_one(item, where))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                problems.append(f"{where}: malformed ({type(error).__name__}: {error}).")
            except IntegrityError as error:
                problems.append(f"{where}: clashes with what is stored ({error}).".strip())

    def configuration(item: Any, where: str) -> list[str]:
        for slug in item.get("stages", []):
            if slug in coverage:
                problems.append(f"{where}.stages: {slug} is covered by {coverage[slug]} too.")
            coverage[slug] = item["name"]
        return _configuration(item, environ, where, problems, by)

    each("stages", lambda item, where: _stage(item, by))
    each("configurations", configuration)
    unknown = set(coverage) - set(Stage.objects.values_list("slug", flat=True))
    problems += [f"configurations: no stage {slug} to cover." for slug in sorted(unknown)]
    if problems:
        raise Refused(problems)
    lines += _coverage(coverage)
    each("apps", lambda item, where: _app(item, where, problems, by))
    each("templates", lambda item, where: _template(item, where, problems, by))
    if problems:
        raise Refused(problems)
    return lines


def _stage(item: dict[str, Any], by: Who) -> list[str]:
    wanted = {"name": item["name"], "order": item["order"], "is_production": item["production"]}
    stage, created = Stage.objects.get_or_create(slug=item["slug"], defaults=wanted)
    if created:
        audit.record(by, AuditAction.STAGE_CREATED, stage, details=FROM_DOCUMENT)
        return [f"+ stage {stage.slug} ({stage.name})"]
    changed = [k for k, v in wanted.items() if getattr(stage, k) != v]
    if not changed:
        return []
    Stage.objects.filter(pk=stage.pk).update(**wanted)
    audit.record(by, AuditAction.STAGE_EDITED, stage, details={**FROM_DOCUMENT, "fields": changed})
    return [f"~ stage {stage.slug}: {', '.join(changed)}"]


def _configuration(
    item: dict[str, Any], environ: Mapping[str, str], where: str, problems: list[str], by: Who
) -> list[str]:
    configuration = EmailConfiguration.objects.filter(name=item["name"]).first()
    stored = list(configuration.versions.order_by("number")) if configuration else []
    wanted = item.get("versions", [])
    for index, (old, new) in enumerate(zip(stored, wanted, strict=False)):
        version = _version(new, environ, f"{where}.versions[{index}]", problems)
        if version is not None and not _same(old, version):
            problems.append(
                f"{where}.versions[{index}]: differs from version {old.number} stored here; "
                "a history is never rewritten (add a version instead)."
            )
    added = wanted[len(stored) :]
    built = []
    for offset, new in enumerate(added):
        index = len(stored) + offset
        version = _version(new, environ, f"{where}.versions[{index}]", problems)
        if version is not None and version.number != index + 1:
            problems.append(f"{where}.versions[{index}].number: expected {index + 1}.")
        built.append(version)
    if problems or not built:
        return []
    latest = built[-1]
    configuration = configuration or EmailConfiguration(name=item["name"])
    for name in ConfigurationVersion.setting_names():
        setattr(configuration, name, getattr(latest, name))
    configuration.save()
    for version in built:
        version.configuration = configuration
        version.created_by = audit.actor(by).user
        version.save()
    configuration.test_recipients.all().delete()
    TestRecipient.objects.bulk_create(
        TestRecipient(configuration=configuration, email=r["email"], name=r.get("name", ""))
        for r in latest.test_recipients
    )
    numbers = f"v{added[0]['number']}" + (f"–v{added[-1]['number']}" if len(added) > 1 else "")
    audit.record(
        by,
        AuditAction.CONFIGURATION_EDITED if stored else AuditAction.CONFIGURATION_CREATED,
        configuration,
        details={"version": latest.number, "from_document": numbers},
    )
    return [f"{'~' if stored else '+'} configuration {configuration.name}: {numbers}"]


def _version(
    item: dict[str, Any], environ: Mapping[str, str], where: str, problems: list[str]
) -> ConfigurationVersion | None:
    version = ConfigurationVersion(
        number=item["number"],
        name=item["name"],
        stage_names=item.get("stages", []),
        test_recipients=item.get("test_recipients", []),
        options=item.get("options", {}),
        **item.get("settings", {}),
    )
    secrets = {}
    for name, reference in item.get("secrets", {}).items():
        match = REFERENCE.match(str(reference))
        if match is None or match.group(1) not in environ:
            variable = match.group(1) if match else reference
            problems.append(f"{where}.secrets.{name}: set the environment variable {variable}.")
            return None
        secrets[name] = environ[match.group(1)]
    version.secrets = secrets
    options_problems = _engine_problems(version)
    if options_problems:
        problems += [f"{where}.{path}: {message}" for path, message in options_problems]
        return None
    try:
        version.full_clean(
            exclude=["configuration", "number", "created_by", "test_recipients", "stage_names"],
            validate_unique=False,
        )
    except ValidationError as error:
        for field_name, messages in error.message_dict.items():
            problems += [f"{where}.settings.{field_name}: {m}" for m in messages]
        return None
    return version


def _engine_problems(version: ConfigurationVersion) -> list[tuple[str, str]]:
    """The options and secrets checked by the engine's own fields (not the outbound policy,
    which applies when sending)."""
    options_class = options_of(version.engine)
    if options_class is None:
        return [("settings.engine", f"{version.engine!r} is not an engine Stagemail has.")]
    return options_class.problems(version.options, version.secrets)


def _same(old: ConfigurationVersion, new: ConfigurationVersion) -> bool:
    return old.same_settings_as(new) and (old.name, old.stage_names, old.test_recipients) == (
        new.name,
        new.stage_names,
        new.test_recipients,
    )


def _coverage(wanted: dict[str, str]) -> list[str]:
    lines = []
    held = {c.stage.slug: c for c in StageCoverage.objects.select_related("stage", "configuration")}
    for slug, coverage in held.items():
        if slug in wanted and coverage.configuration.name != wanted[slug]:
            coverage.delete()
    for slug, name in wanted.items():
        current = held.get(slug)
        if current is not None and current.configuration.name == name:
            continue
        StageCoverage.objects.create(
            stage=Stage.objects.get(slug=slug),
            configuration=EmailConfiguration.objects.get(name=name),
        )
        lines.append(f"~ {slug} is covered by {name}")
    return lines


def _app(item: dict[str, Any], where: str, problems: list[str], by: Who) -> list[str]:
    lines = []
    app, created = App.objects.get_or_create(
        slug=item["slug"], defaults={"name": item["name"], "description": item["description"]}
    )
    if created:
        lines.append(f"+ app {app.slug}")
    elif (app.name, app.description) != (item["name"], item["description"]):
        App.objects.filter(pk=app.pk).update(name=item["name"], description=item["description"])
        lines.append(f"~ app {app.slug}: name or description")
    for slug, applied in item.get("stages", {}).items():
        version = ConfigurationVersion.objects.filter(
            configuration__name=applied["configuration"], number=applied["version"]
        ).first()
        stage = Stage.objects.filter(slug=slug).first()
        if version is None or stage is None:
            problems.append(f"{where}.stages.{slug}: no such stage, configuration or version.")
            continue
        wanted = {
            "version": version,
            "pinned": applied["pinned"],
            "rate_limit_per_minute": applied["rate_limit_per_minute"],
        }
        row = AppliedConfiguration.objects.filter(app=app, stage=stage).first()
        if row is not None and all(getattr(row, k) == v for k, v in wanted.items()):
            continue
        try:  # the rule the portal applies by: only a configuration covering the stage
            AppliedConfiguration(app=app, stage=stage, version=version).clean()
        except ValidationError as error:
            problems += [f"{where}.stages.{slug}: {m}" for m in error.messages]
            continue
        AppliedConfiguration.objects.update_or_create(app=app, stage=stage, defaults=wanted)
        action = AuditAction.REAPPLIED if row else AuditAction.APPLIED
        audit.record(
            by, action, app, stage=stage, details={**FROM_DOCUMENT, "version": str(version)}
        )
        lines.append(f"~ app {app.slug} on {slug}: {version}")
    return lines


def _template(item: dict[str, Any], where: str, problems: list[str], by: Who) -> list[str]:
    """Through the template form, so the sandbox's checks apply as in the portal."""
    template = EmailTemplate.objects.filter(key=item["key"]).first()
    data = {
        **{name: item[name] for name in ("key", *TEMPLATE_FIELDS)},
        "sample_data": json.dumps(item["sample_data"]),
    }
    form = EmailTemplateForm(data, instance=template or EmailTemplate())
    if not form.is_valid():
        for field_name, messages in form.errors.items():
            problems += [f"{where}.{field_name}: {message}" for message in messages]
        return []
    if template is not None and not form.has_changed():
        return []
    template_services.save(form, by=by)
    return [f"{'~' if template else '+'} template {item['key']}"]
