"""Configuration verbs: save with a version, apply. Each is one transaction with a clear error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from emailconfig import audit, versions
from emailconfig.audit import Who
from emailconfig.models import (
    App,
    AppliedConfiguration,
    AuditAction,
    ConfigurationVersion,
    DeliverySettings,
    EmailConfiguration,
    RecipientsMode,
    Stage,
    StageCoverage,
    TestRecipient,
)

EMPTY_TEST_LIST = "A test list needs at least one test recipient."


def repeated_addresses(addresses: Sequence[str]) -> list[int]:
    """Positions of the addresses already listed before them (case does not count)."""
    seen: set[str] = set()
    repeated = []
    for position, address in enumerate(addresses):
        if address.lower() in seen:
            repeated.append(position)
        seen.add(address.lower())
    return repeated


def check_test_list(recipients_mode: str, addresses: Sequence[str]) -> None:
    """The test list's rules, for every way in (portal form, admin, this service)."""
    errors: dict[str, list[str]] = {}
    for position in repeated_addresses(addresses):
        errors.setdefault(NON_FIELD_ERRORS, []).append(
            f"{addresses[position]} is already in the test list."
        )
    if recipients_mode == RecipientsMode.TEST_LIST and not addresses:
        errors["recipients_mode"] = [EMPTY_TEST_LIST]
    if errors:
        raise ValidationError(errors, code="test_list")


def coverage_conflicts(
    stages: Iterable[Stage], *, excluding: EmailConfiguration | None
) -> list[str]:
    """One readable sentence per stage already covered by another configuration."""
    coverages = StageCoverage.objects.filter(stage__in=list(stages)).select_related(
        "stage", "configuration"
    )
    if excluding is not None and excluding.pk is not None:
        coverages = coverages.exclude(configuration=excluding)
    return [f"{c.stage} is already covered by “{c.configuration}”." for c in coverages]


def stages_in_use(configuration: EmailConfiguration, keep: Iterable[Stage]) -> list[str]:
    """Why stages outside `keep` cannot be dropped: apps use this configuration there."""
    if configuration.pk is None:
        return []
    in_use = (
        AppliedConfiguration.objects.filter(version__configuration=configuration)
        .exclude(stage__in=list(keep))
        .select_related("app", "stage")
    )
    return [f"{a.stage} cannot be removed: {a.app} uses this configuration there." for a in in_use]


@transaction.atomic
def save_configuration(
    configuration: EmailConfiguration,
    *,
    stages: Sequence[Stage],
    test_recipients: Sequence[dict[str, str]],
    author: Who,
    based_on: int | None = None,
    restored_from: ConfigurationVersion | None = None,
) -> ConfigurationVersion | None:
    """Save a configuration with its stages and test list; record a version if anything changed.

    `based_on` is the version number the editor started from; if someone saved a
    newer one meanwhile, the save is refused instead of silently overwriting it.
    `restored_from`: the older version this save makes current again, for the record.
    """
    check_test_list(configuration.recipients_mode, [r["email"] for r in test_recipients])
    if not stages:
        raise ValidationError({"stages": "Choose at least one stage."}, code="no_stage")
    if configuration.pk is not None:
        _refuse_lost_update(configuration, based_on)
    try:
        with transaction.atomic():
            configuration.save()
    except IntegrityError:
        raise ValidationError(
            {"name": "A configuration with this name already exists."}, code="unique"
        ) from None
    _set_coverage(configuration, stages)
    configuration.test_recipients.all().delete()
    TestRecipient.objects.bulk_create(
        TestRecipient(configuration=configuration, email=r["email"], name=r.get("name", ""))
        for r in test_recipients
    )
    return record_version(configuration, author=author, restored_from=restored_from)


def restore_version(
    configuration: EmailConfiguration, version: ConfigurationVersion, *, by: Who, based_on: int
) -> ConfigurationVersion | None:
    """Make an older version current again by recording a new one equal to it (settings,
    secrets and test list): the history stays append-only. The name and the stages stay as
    they are now, since the stages' apps were applied against today's coverage."""
    for name in DeliverySettings.setting_names():
        setattr(configuration, name, getattr(version, name))
    return save_configuration(
        configuration,
        stages=list(Stage.objects.filter(coverage__configuration=configuration)),
        test_recipients=version.test_recipients,
        author=by,
        based_on=based_on,
        restored_from=version,
    )


def _refuse_lost_update(configuration: EmailConfiguration, based_on: int | None) -> None:
    EmailConfiguration.objects.select_for_update().filter(pk=configuration.pk).get()
    latest = configuration.latest_version()
    if based_on is not None and latest is not None and latest.number != based_on:
        raise ValidationError(
            f"Someone else saved version {latest.number} while you were editing version "
            f"{based_on}. Nothing was saved; reload the page to see their changes.",
            code="stale",
        )


def _set_coverage(configuration: EmailConfiguration, stages: Sequence[Stage]) -> None:
    # Lock our coverage rows so an apply cannot slip in between the check and the change.
    list(configuration.coverages.select_for_update())
    in_use = stages_in_use(configuration, keep=stages)
    if in_use:
        raise ValidationError({"stages": in_use}, code="stage_in_use")
    configuration.coverages.exclude(stage__in=list(stages)).delete()
    kept = set(configuration.coverages.values_list("stage_id", flat=True))
    try:
        with transaction.atomic():
            StageCoverage.objects.bulk_create(
                StageCoverage(configuration=configuration, stage=stage)
                for stage in stages
                if stage.pk not in kept
            )
    except IntegrityError:
        raise ValidationError(
            {"stages": coverage_conflicts(stages, excluding=configuration)}, code="stage_taken"
        ) from None


def _snapshot(source: DeliverySettings) -> dict[str, Any]:
    return {name: getattr(source, name) for name in DeliverySettings.setting_names()}


def describe(
    configuration: EmailConfiguration,
    *,
    stage_names: list[str],
    test_recipients: Sequence[dict[str, str]],
) -> ConfigurationVersion:
    """An unsaved version holding the configuration as it is now (the next number is left 0)."""
    return ConfigurationVersion(
        configuration=configuration,
        number=0,
        name=configuration.name,
        stage_names=stage_names,
        test_recipients=[{"email": r["email"], "name": r.get("name", "")} for r in test_recipients],
        **_snapshot(configuration),
    )


def _same_version(a: ConfigurationVersion, b: ConfigurationVersion) -> bool:
    return (
        a.name == b.name
        and sorted(a.stage_names) == sorted(b.stage_names)  # a reordering of stages is no change
        and a.test_recipients == b.test_recipients
        and a.same_settings_as(b)
    )


def record_version(
    configuration: EmailConfiguration,
    *,
    author: Who,
    restored_from: ConfigurationVersion | None = None,
) -> ConfigurationVersion | None:
    """Freeze the current state as the next version, unless nothing a version shows changed.

    A version describes the configuration as it is: name, stages, settings and test list.
    The audit trail records it: the changes from the version before (secrets only as
    "changed", as the history page shows them).
    """
    with transaction.atomic():
        EmailConfiguration.objects.select_for_update().filter(pk=configuration.pk).get()
        now = describe(
            configuration,
            stage_names=[c.stage.name for c in configuration.coverages.select_related("stage")],
            test_recipients=[r.as_dict() for r in configuration.test_recipients.all()],
        )
        latest = configuration.latest_version()
        if latest is not None and _same_version(now, latest):
            return None
        now.number = latest.number + 1 if latest else 1
        now.created_by = audit.actor(author).user
        now.save()
        _audit_version(author, latest, now, restored_from)
        return now


def _audit_version(
    author: Who,
    previous: ConfigurationVersion | None,
    version: ConfigurationVersion,
    restored_from: ConfigurationVersion | None,
) -> None:
    details: dict[str, Any] = {"version": version.number}
    if restored_from is not None:
        details["restored_from"] = restored_from.number
    if previous is not None:
        details["changes"] = [
            {"field": c.label, "old": c.old, "new": c.new} for c in versions.diff(previous, version)
        ]
    audit.record(
        author,
        AuditAction.CONFIGURATION_EDITED if previous else AuditAction.CONFIGURATION_CREATED,
        version.configuration,
        stage=", ".join(version.stage_names),
        details=details,
    )


@transaction.atomic
def apply_version(
    app: App, stage: Stage, version: ConfigurationVersion, *, by: Who
) -> AppliedConfiguration:
    """Make `app` use `version` on `stage`; refused unless its configuration covers the stage.

    An older version than the configuration's newest is applied on purpose (a rollback), so
    the app is pinned to it rather than shown as behind.
    """
    StageCoverage.objects.select_for_update().filter(stage=stage).first()
    applied = AppliedConfiguration.objects.filter(app=app, stage=stage).first()
    before = applied.version if applied else None
    if applied is None:
        applied = AppliedConfiguration(app=app, stage=stage)
    applied.version = version
    applied.pinned = version.configuration.versions.filter(number__gt=version.number).exists()
    applied.applied_by = audit.actor(by).user
    applied.clean()
    applied.save()
    audit.record(
        by,
        AuditAction.REAPPLIED if before else AuditAction.APPLIED,
        app,
        stage=stage,
        details={
            "version": str(version),
            "before": str(before) if before else None,
            **({"pinned": True} if applied.pinned else {}),
        },
    )
    return applied
