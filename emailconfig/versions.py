"""Readable differences between two configuration versions; secrets show as "changed" only."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import capfirst

from emailconfig.engines import ENGINES, EngineOptions, options_of
from emailconfig.fields import Secret
from emailconfig.models import ConfigurationVersion, DeliverySettings


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Setting:
    """One setting as shown on the configuration page."""

    label: str
    text: str
    is_secret: bool = False  # text is then only "Stored" or "Not set"
    warning: bool = False


def engine_option(name: str) -> tuple[type[EngineOptions], str] | None:
    """The engine options form and option a setting name (`smtp_host`) belongs to."""
    for engine in ENGINES.values():
        option = name.removeprefix(f"{engine.key}_")
        if option != name and option in engine.Options.option_names():
            return engine.Options, option
    return None


def is_secret(name: str) -> bool:
    found = engine_option(name)
    return found is not None and found[0].is_secret(found[1])


def label(name: str) -> str:
    found = engine_option(name)
    if found is not None:
        return found[0].label(found[1])
    return capfirst(ConfigurationVersion._meta.get_field(name).verbose_name)


def display(version: ConfigurationVersion, name: str) -> str:
    """A setting of `version`, by its form name, as the portal shows it."""
    value = version.setting_values().get(name)
    if is_secret(name):
        return "Stored" if value is not None else "Not set"
    if name == "envelope_from" and not value:
        return "Same as the from address"
    if name == "trusted_ca":
        count = value.count("BEGIN CERTIFICATE")
        return f"{count} extra CA certificate(s) trusted" if count else "System CAs only"
    found = engine_option(name)
    field = found[0].base_fields[name] if found else ConfigurationVersion._meta.get_field(name)
    choices = dict(getattr(field, "choices", None) or ())
    if value in choices:
        return str(choices[value])
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value not in ("", None) else "—"


def _secret_change(old: Secret | None, new: Secret | None) -> str | None:
    if old is None and new is None:
        return None
    if old is None:
        return "set"
    if new is None:
        return "removed"
    return None if new.same_plaintext_as(old) else "changed"


def recipients(version: ConfigurationVersion) -> str:
    return (
        ", ".join(
            f"{r['name']} <{r['email']}>" if r["name"] else r["email"]
            for r in version.test_recipients
        )
        or "—"
    )


def setting_order(*versions: ConfigurationVersion) -> list[str]:
    """The settings of one or more versions by form name, each engine's options where the
    engine's place is, so two versions compare setting by setting."""
    names: dict[str, None] = {}
    for name in DeliverySettings.setting_names():
        if name == "options":
            for version in versions:
                if options_class := options_of(version.engine):
                    options = map(options_class.field_name, options_class.option_names())
                    names |= dict.fromkeys(options)
        elif name != "secrets":  # among the options
            names[name] = None
    return list(names)


def diff(old: ConfigurationVersion, new: ConfigurationVersion) -> list[Change]:
    changes = []
    if old.name != new.name:
        changes.append(Change("Name", old.name, new.name))
    if old.stage_names != new.stage_names:
        changes.append(
            Change("Stages", ", ".join(old.stage_names) or "—", ", ".join(new.stage_names) or "—")
        )
    old_values, new_values = old.setting_values(), new.setting_values()
    for name in setting_order(old, new):
        old_value, new_value = old_values.get(name), new_values.get(name)
        if is_secret(name):
            what = _secret_change(old_value, new_value)
            if what:
                changes.append(Change(label(name), "(hidden)", f"(hidden, {what})"))
        elif old_value != new_value:
            before, after = display(old, name), display(new, name)
            changes.append(
                Change(label(name), before, after if after != before else f"{after} (changed)")
            )
    if old.test_recipients != new.test_recipients:
        changes.append(Change("Test recipients", recipients(old), recipients(new)))
    return changes


def applies(version: ConfigurationVersion, name: str) -> bool:
    """Whether a setting is used by the version's engine and options."""
    options_class = options_of(version.engine)
    found = engine_option(name)
    if found is not None:
        options_form, option = found
        return options_form is options_class and options_form.applies(option, version.options)
    return options_class is None or name not in options_class.ignores


def displayed_settings(version: ConfigurationVersion) -> list[Setting]:
    """The settings that apply to a version; secrets only as stored or not."""
    return [
        Setting(
            label=label(name),
            text=display(version, name),
            is_secret=is_secret(name),
            warning=name == "trusted_ca" and bool(version.trusted_ca.strip()),
        )
        for name in setting_order(version)
        if applies(version, name)
    ]


def as_restored(current: ConfigurationVersion, old: ConfigurationVersion) -> ConfigurationVersion:
    """What making `old` current would record (unsaved): its settings and test list, with
    today's name and stages, which a restore keeps."""
    return ConfigurationVersion(
        configuration=current.configuration,
        number=0,
        name=current.name,
        stage_names=current.stage_names,
        test_recipients=old.test_recipients,
        **{name: getattr(old, name) for name in DeliverySettings.setting_names()},
    )
