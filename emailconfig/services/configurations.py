"""Configuration verbs: save with a version, apply. Each is one transaction with a clear error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from emailconfig.fields import Secret
from emailconfig.models import (
    App,
    AppliedConfiguration,
    ConfigurationVersion,
    DeliverySettings,
    EmailConfiguration,
    RecipientsMode,
    Stage,
    StageCoverage,
    TestRecipient,
)

User = AbstractBaseUser | None


def stage_holders(stages: Iterable[Stage], *, excluding: EmailConfiguration | None) -> list[str]:
    """Readable conflicts for stages already covered by another configuration."""
    coverages = StageCoverage.objects.filter(stage__in=list(stages)).select_related(
        "stage", "configuration"
    )
    if excluding is not None and excluding.pk is not None:
        coverages = coverages.exclude(configuration=excluding)
    return [f"{c.stage} is already covered by “{c.configuration}”." for c in coverages]


@transaction.atomic
def save_configuration(
    configuration: EmailConfiguration,
    *,
    stages: Sequence[Stage],
    test_recipients: Sequence[dict[str, str]],
    author: User,
) -> ConfigurationVersion | None:
    """Save a configuration with its stages and test list; record a version if anything changed."""
    if configuration.recipients_mode == RecipientsMode.TEST_LIST and not test_recipients:
        raise ValidationError(
            {"recipients_mode": "A test list needs at least one test recipient."},
            code="empty_test_list",
        )
    if not stages:
        raise ValidationError({"stages": "Choose at least one stage."}, code="no_stage")
    configuration.save()
    _set_coverage(configuration, stages)
    configuration.test_recipients.all().delete()
    TestRecipient.objects.bulk_create(
        TestRecipient(configuration=configuration, email=r["email"], name=r.get("name", ""))
        for r in test_recipients
    )
    return record_version(configuration, author=author)


def _set_coverage(configuration: EmailConfiguration, stages: Sequence[Stage]) -> None:
    wanted = {stage.pk for stage in stages}
    dropped = configuration.coverages.exclude(stage__in=wanted)
    in_use = AppliedConfiguration.objects.filter(
        version__configuration=configuration, stage__in=dropped.values("stage")
    ).select_related("app", "stage")
    if in_use:
        raise ValidationError(
            {
                "stages": [
                    f"{a.stage} cannot be removed: {a.app} uses this configuration there."
                    for a in in_use
                ]
            },
            code="stage_in_use",
        )
    dropped.delete()
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
            {"stages": stage_holders(stages, excluding=configuration)}, code="stage_taken"
        ) from None


def _snapshot(source: DeliverySettings) -> dict[str, Any]:
    return {name: getattr(source, name) for name in DeliverySettings.setting_names()}


def _same_settings(a: dict[str, Any], b: dict[str, Any]) -> bool:
    for name, value in a.items():
        other = b[name]
        if isinstance(value, Secret) or isinstance(other, Secret):
            same = (value is None and other is None) or (
                isinstance(value, Secret) and value.same_plaintext_as(other)
            )
        else:
            same = value == other
        if not same:
            return False
    return True


def record_version(
    configuration: EmailConfiguration, *, author: User
) -> ConfigurationVersion | None:
    """Freeze the current state as the next version, unless it equals the latest one."""
    with transaction.atomic():
        EmailConfiguration.objects.select_for_update().filter(pk=configuration.pk).get()
        settings_now = _snapshot(configuration)
        stage_names = [c.stage.name for c in configuration.coverages.select_related("stage")]
        recipients = [r.as_dict() for r in configuration.test_recipients.all()]
        latest = configuration.latest_version()
        if (
            latest is not None
            and latest.name == configuration.name
            and latest.stage_names == stage_names
            and latest.test_recipients == recipients
            and _same_settings(settings_now, _snapshot(latest))
        ):
            return None
        return ConfigurationVersion.objects.create(
            configuration=configuration,
            number=latest.number + 1 if latest else 1,
            name=configuration.name,
            stage_names=stage_names,
            test_recipients=recipients,
            created_by=author,
            **settings_now,
        )


@transaction.atomic
def apply_version(
    app: App, stage: Stage, version: ConfigurationVersion, *, by: User
) -> AppliedConfiguration:
    """Make `app` use `version` on `stage`; refused unless its configuration covers the stage."""
    StageCoverage.objects.select_for_update().filter(stage=stage).first()
    applied = AppliedConfiguration.objects.filter(app=app, stage=stage).first()
    if applied is None:
        applied = AppliedConfiguration(app=app, stage=stage)
    applied.version = version
    applied.applied_by = by
    applied.clean()
    applied.save()
    return applied
