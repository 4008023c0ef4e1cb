"""Readable differences between two configuration versions; secrets show as "changed" only."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import capfirst

from emailconfig.fields import EncryptedSecretField, Secret
from emailconfig.models import ConfigurationVersion, DeliverySettings, Engine


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


def is_secret_field(name: str) -> bool:
    return isinstance(ConfigurationVersion._meta.get_field(name), EncryptedSecretField)


def display(version: ConfigurationVersion, name: str) -> str:
    value = getattr(version, name)
    if is_secret_field(name):
        return "Stored" if value is not None else "Not set"
    if name == "envelope_from" and not value:
        return "Same as the from address"
    if name == "trusted_ca":
        count = value.count("BEGIN CERTIFICATE")
        return f"{count} extra CA certificate(s) trusted" if count else "System CAs only"
    display = getattr(version, f"get_{name}_display", None)
    if display is not None:
        return str(display())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value != "" else "—"


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


def diff(old: ConfigurationVersion, new: ConfigurationVersion) -> list[Change]:
    changes = []
    if old.name != new.name:
        changes.append(Change("Name", old.name, new.name))
    if old.stage_names != new.stage_names:
        changes.append(
            Change("Stages", ", ".join(old.stage_names) or "—", ", ".join(new.stage_names) or "—")
        )
    for name in DeliverySettings.setting_names():
        field = ConfigurationVersion._meta.get_field(name)
        label = capfirst(field.verbose_name)
        old_value, new_value = getattr(old, name), getattr(new, name)
        if isinstance(old_value, Secret) or isinstance(new_value, Secret):
            what = _secret_change(old_value, new_value)
            if what:
                changes.append(Change(label, "(hidden)", f"(hidden, {what})"))
        elif old_value != new_value:
            before, after = display(old, name), display(new, name)
            changes.append(
                Change(label, before, after if after != before else f"{after} (changed)")
            )
    if old.test_recipients != new.test_recipients:
        changes.append(Change("Test recipients", recipients(old), recipients(new)))
    return changes


def applies(settings: DeliverySettings, name: str) -> bool:
    if name.startswith("smtp_") or name == "envelope_from":  # SendGrid has no envelope sender
        if settings.engine != Engine.SMTP:
            return False
        if name in ("smtp_username", "smtp_password"):
            return settings.smtp_requires_auth
    if name.startswith("sendgrid_"):
        return settings.engine == Engine.SENDGRID
    return True


def displayed_settings(version: ConfigurationVersion) -> list[Setting]:
    """The settings that apply to a version; secrets only as stored or not."""
    return [
        Setting(
            label=capfirst(ConfigurationVersion._meta.get_field(n).verbose_name),
            text=display(version, n),
            is_secret=is_secret_field(n),
            warning=n == "trusted_ca" and bool(version.trusted_ca.strip()),
        )
        for n in DeliverySettings.setting_names()
        if applies(version, n)
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
