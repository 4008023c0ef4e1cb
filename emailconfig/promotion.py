"""Promotion: carrying a configuration's settings up to the next stage, field by field.

The source is the newest version of a configuration covering a stage; the target is the
configuration covering the next stage up (by the stages' order), or a new one. What is
carried is chosen per field; a secret is carried only when chosen on purpose, or typed anew.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emailconfig import versions
from emailconfig.access import Access
from emailconfig.audit import Who
from emailconfig.engines import options_of
from emailconfig.forms.configurations import ConfigurationForm, form_data
from emailconfig.models import ConfigurationVersion, EmailConfiguration, Stage

TEST_LIST = "test_recipients"


@dataclass(frozen=True)
class Row:
    """One field, here and there."""

    name: str
    label: str
    here: str
    there: str
    is_secret: bool

    @property
    def differs(self) -> bool:
        return self.here != self.there or self.is_secret


def source_stage(configuration: EmailConfiguration) -> Stage | None:
    """The highest stage the configuration covers: promotion starts there."""
    return Stage.objects.filter(coverage__configuration=configuration).order_by("-order").first()


def next_stage(stage: Stage) -> Stage | None:
    later = Stage.objects.filter(order__gt=stage.order).order_by("order", "name")
    return later.first()


def target_configuration(stage: Stage) -> EmailConfiguration | None:
    return EmailConfiguration.objects.filter(coverages__stage=stage).first()


def rows(source: ConfigurationVersion, target: ConfigurationVersion | None) -> list[Row]:
    """Every setting that applies here or there, and the test list, side by side."""
    result = []
    for name in versions.setting_order(source, *([target] if target else [])):
        applies = versions.applies(source, name) or (target and versions.applies(target, name))
        if not applies:
            continue
        result.append(
            Row(
                name=name,
                label=versions.label(name),
                here=versions.display(source, name),
                there=versions.display(target, name) if target else "—",
                is_secret=versions.is_secret(name),
            )
        )
    result.append(
        Row(
            name=TEST_LIST,
            label="Test recipients",
            here=versions.recipients(source),
            there=versions.recipients(target) if target else "—",
            is_secret=False,
        )
    )
    return result


def configuration_data(
    source: ConfigurationVersion,
    target: EmailConfiguration | None,
    stage: Stage,
    *,
    carried: set[str],
    typed: dict[str, str],
) -> dict[str, object]:
    """The configuration form's values for the target: its own (a new one's defaults), with
    the carried fields taken from the source. A carried secret is the source's; a typed one
    wins over both; any other is the target's stored one, kept."""
    base = target.latest_version() if target else None
    stages = list(Stage.objects.filter(coverage__configuration=target)) if target else [stage]
    name = target.name if target else f"{source.configuration.name} ({stage.name})"
    recipients = (
        source.test_recipients if TEST_LIST in carried else (base.test_recipients if base else [])
    )
    shape = {"name": name, "stages": stages, "test_recipients": recipients}
    values = form_data(base or EmailConfiguration(), **shape)
    from_source = form_data(source, **shape)
    source_values = source.setting_values()
    for field_name in carried - {TEST_LIST}:
        if versions.is_secret(field_name):
            secret = source_values.get(field_name)
            if secret is None:
                values[f"{field_name}_1"] = "on"  # not set here: cleared there
            else:
                values[f"{field_name}_0"] = secret.reveal()
        elif field_name in from_source:
            values[field_name] = from_source[field_name]
        else:
            values.pop(field_name, None)  # a checkbox carried as off
    values.update({f"{field}_0": plaintext for field, plaintext in typed.items()})
    return values


def secrets_sent_elsewhere(
    source: ConfigurationVersion, values: dict[str, object], *, carried: set[str], typed: set[str]
) -> list[str]:
    """The carried secrets (not typed anew) that `values` would send to another server than
    the source's, where they were entered: refused, as an edit refuses moving a stored one."""
    options_class = options_of(source.engine)
    if options_class is None or options_of(str(values.get("engine", ""))) is not options_class:
        return []  # another engine there: the source's secrets are not sent at all
    posted = {
        option: values.get(options_class.field_name(option))
        for option in options_class.option_names()
        if not options_class.is_secret(option)
    }
    problems = []
    for secret in options_class.secret_destinations:
        name = options_class.field_name(secret)
        if name not in carried or name in typed or secret not in source.secrets:
            continue
        there = (posted, str(values.get("trusted_ca", "")))
        if options_class.applies(secret, posted) and options_class.destination_changes(
            secret, (source.options, source.trusted_ca), there
        ):
            problems.append(
                f"{options_class.label(secret)}: the server there is not the one this secret "
                "was entered for; carry the server with it, or type the secret anew: a stored "
                "secret is only sent to the server it was entered for."
            )
    return problems


@dataclass
class Promoted:
    """What a promotion did: a new version, nothing (the target had it all), or refused
    (`refused`, and the target form's own errors)."""

    form: ConfigurationForm
    version: ConfigurationVersion | None = None
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.form.errors


def promote(
    source: ConfigurationVersion,
    target: EmailConfiguration | None,
    stage: Stage,
    *,
    carried: set[str],
    typed: dict[str, str],
    based_on: int | None,
    confirm_stage: str,
    access: Access,
    by: Who,
) -> Promoted:
    """Carry the chosen fields to `stage` through the target's own form and rules (the
    lost-update guard, production confirmation, where secrets may go)."""
    data = configuration_data(source, target, stage, carried=carried, typed=typed)
    data["based_on"] = "" if based_on is None else based_on
    data["confirm_stage"] = confirm_stage
    form = ConfigurationForm(data, instance=target or EmailConfiguration(), access=access)
    refused = secrets_sent_elsewhere(source, data, carried=carried, typed=set(typed))
    if refused or not form.is_valid():
        return Promoted(form, refused=refused)
    return Promoted(form, version=form.save_version(author=by))
