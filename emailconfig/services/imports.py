"""Importing CodeStream On-Prem's email settings: read the file, check it with the very form an
editor fills in (every rule applies), show what will be created, then save it as version 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emailconfig.access import Access
from emailconfig.audit import Who
from emailconfig.codestream import Reading, read
from emailconfig.forms.configurations import ConfigurationForm
from emailconfig.models import ConfigurationVersion, EmailConfiguration, Stage

# Form fields that are not in the file: where their errors come from instead.
OWN_FIELDS = {"name": "the name", "stages": "the stage", "confirm_stage": "the confirmation"}
# What the file leaves to Stagemail's defaults, for the form.
DEFAULTS = {
    "smtp_port": "25",
    "smtp_security": "starttls",
    "sendgrid_endpoint": "https://api.sendgrid.com/v3/mail/send",
    "connect_timeout": "10",
    "send_timeout": "60",
}


@dataclass
class Plan:
    """What importing the file creates, or the problems that stop it, each with its path."""

    name: str
    stage: Stage
    reading: Reading
    form: ConfigurationForm
    problems: list[str] = field(default_factory=list)

    @property
    def shown(self) -> list[tuple[str, str]]:
        return [("Name", self.name), ("Stage", self.stage.name), *self.reading.shown]


def default_name(stage: Stage) -> str:
    return f"CodeStream ({stage.name})"


def plan(
    text: str,
    *,
    stage: Stage,
    name: str = "",
    access: Access | None = None,
    confirm_stage: str | None = None,
) -> Plan:
    """Read and check; nothing is saved. `access`: whose stage choices apply (None: any).

    `confirm_stage`: the production stage's name as typed, when creating; None while only
    showing the plan, which asks for it.
    """
    name = name or default_name(stage)
    reading = read(text)
    data: dict[str, Any] = {
        **DEFAULTS,
        **reading.values,
        "name": name,
        "stages": [stage.pk],
        "confirm_stage": confirm_stage or "",
        "recipients-TOTAL_FORMS": "1" if "recipients-0-email" in reading.values else "0",
        "recipients-INITIAL_FORMS": "0",
    }
    form = ConfigurationForm(
        data, instance=EmailConfiguration(), access=access, confirming=confirm_stage is not None
    )
    result = Plan(name=name, stage=stage, reading=reading, form=form)
    result.problems = list(reading.problems)
    if not result.problems and not form.is_valid():
        result.problems = _form_problems(form, reading)
    return result


def _form_problems(form: ConfigurationForm, reading: Reading) -> list[str]:
    by_path = {field.removesuffix("_0"): path for field, path in reading.paths.items()}
    problems = []
    for field_name, errors in form.errors.items():
        where = by_path.get(field_name) or OWN_FIELDS.get(field_name) or field_name
        problems += [f"{where}: {error}" for error in errors]
    for row in form.test_list.forms:
        for errors in row.errors.values():
            problems += [f"{reading.paths.get('recipients-0-email')}: {e}" for e in errors]
    return problems


def save(plan: Plan, *, by: Who) -> ConfigurationVersion:
    """Create the configuration the plan shows; refused (ValueError) while it has problems."""
    if plan.problems:
        raise ValueError("This import has problems; nothing was saved.")
    version = plan.form.save_version(author=by)
    if version is None:
        plan.problems = _form_problems(plan.form, plan.reading)
        raise ValueError("This import has problems; nothing was saved.")
    return version
