"""Stages, email configurations and their immutable versions, apps and what they applied."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
)

from emailconfig.fields import EncryptedSecretsField, Secret
from emailconfig.validators import validate_header_safe, validate_pem_certificates


def engine_choices() -> list[tuple[str, str]]:
    """The registered engines; asked lazily, as the engines import these models."""
    from emailconfig.engines import ENGINES

    return [(key, engine.label) for key, engine in ENGINES.items()]


class RecipientsMode(models.TextChoices):
    APP = "app", "Set in app"
    TEST_LIST = "test_list", "Test list"


class Stage(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    order = models.PositiveIntegerField(default=0)
    is_production = models.BooleanField(
        default=False, help_text="Production stages deliver to real recipients."
    )

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class DeliverySettings(models.Model):
    """Every setting that decides how mail is delivered.

    Shared by the editable configuration and its immutable versions, so a
    version is exactly what an engine needs and nothing is listed twice.
    """

    engine = models.CharField(max_length=20, choices=engine_choices, default="smtp")

    from_email = models.EmailField("from address")
    from_name = models.CharField(
        "display name", max_length=200, blank=True, validators=[validate_header_safe]
    )
    reply_to = models.EmailField("reply-to", blank=True)
    envelope_from = models.EmailField(
        "envelope sender (bounce address)",
        blank=True,
        help_text="Where bounces go: the SMTP MAIL FROM, which recipients do not see. Blank "
        "uses the from address. SendGrid ignores it and uses its own bounce handling.",
    )

    options = models.JSONField(
        "engine options",
        default=dict,
        blank=True,
        help_text="The engine's own settings, as its module defines them (host, port, ...).",
    )
    secrets = EncryptedSecretsField("engine secrets")
    trusted_ca = models.TextField(
        "trusted CA certificates",
        blank=True,
        validators=[validate_pem_certificates],
        help_text="Only for a private relay whose certificate is signed by your own CA: paste "
        "that CA's PEM certificate(s). They are trusted in addition to the system's; the "
        "host name is still verified.",
    )

    recipients_mode = models.CharField(
        "recipients", max_length=20, choices=RecipientsMode, default=RecipientsMode.APP
    )
    subject_prefix = models.CharField(
        "subject prefix",
        max_length=40,
        blank=True,
        validators=[validate_header_safe],
        help_text="Put in front of every subject, such as [QA]. Leave blank to keep subjects.",
    )
    connect_timeout = models.PositiveSmallIntegerField(
        "connect timeout (seconds)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(300)],
    )
    send_timeout = models.PositiveSmallIntegerField(
        "send timeout (seconds)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="The longest one message may take once connected, whatever the server does.",
    )

    class Meta:
        abstract = True

    @classmethod
    def setting_names(cls) -> list[str]:
        return [f.name for f in DeliverySettings._meta.local_fields]

    def setting_values(self) -> dict[str, Any]:
        """Every setting by the name the configuration form gives it: the engine's options
        and secrets as `<engine>_<option>` (`smtp_host`), secrets as `Secret`."""
        values: dict[str, Any] = {}
        for name in self.setting_names():
            if name == "options":
                values |= {f"{self.engine}_{k}": v for k, v in self.options.items()}
            elif name == "secrets":
                values |= {f"{self.engine}_{k}": v for k, v in self.secrets.items()}
            else:
                values[name] = getattr(self, name)
        return values

    def summary(self) -> dict[str, str]:
        """Where it delivers and how it signs in, in a few words for lists."""
        from emailconfig.engines import options_of  # the engines import these models

        options_class = options_of(self.engine)
        return options_class.summary(self.options) if options_class else {"server": self.engine}

    def same_settings_as(self, other: DeliverySettings) -> bool:
        """Whether both hold the same settings; secrets compared by plaintext, as two
        encryptions of one secret differ."""
        mine, theirs = self.setting_values(), other.setting_values()
        if mine.keys() != theirs.keys():
            return False
        for name, value in mine.items():
            if isinstance(value, Secret):
                if not value.same_plaintext_as(theirs[name]):
                    return False
            elif value != theirs[name]:
                return False
        return True

    @staticmethod
    def _constraints(prefix: str) -> list[models.BaseConstraint]:
        return [
            models.CheckConstraint(
                condition=Q(recipients_mode__in=RecipientsMode.values),
                name=f"{prefix}_recipients_mode_known",
            ),
            models.CheckConstraint(
                condition=Q(connect_timeout__gte=1, connect_timeout__lte=300),
                name=f"{prefix}_connect_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(send_timeout__gte=1, send_timeout__lte=600),
                name=f"{prefix}_send_timeout_range",
            ),
        ]


class EmailConfiguration(DeliverySettings):
    """The editable state of a configuration; every saved change becomes a version."""

    name = models.CharField(max_length=120, unique=True)
    stages = models.ManyToManyField(Stage, through="StageCoverage", related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = DeliverySettings._constraints("config")

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> ConfigurationVersion | None:
        return self.versions.order_by("-number").first()


class StageCoverage(models.Model):
    """A stage covered by a configuration; a unique stage makes "one per stage" a DB rule."""

    stage = models.OneToOneField(Stage, on_delete=models.PROTECT, related_name="coverage")
    configuration = models.ForeignKey(
        EmailConfiguration, on_delete=models.CASCADE, related_name="coverages"
    )

    class Meta:
        ordering = ["stage__order"]

    def __str__(self) -> str:
        return f"{self.stage} → {self.configuration}"


class TestRecipient(models.Model):
    __test__ = False  # not a pytest test class, despite the name

    configuration = models.ForeignKey(
        EmailConfiguration, on_delete=models.CASCADE, related_name="test_recipients"
    )
    email = models.EmailField("address")
    name = models.CharField(max_length=200, blank=True, validators=[validate_header_safe])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["configuration", "email"],
                name="test_recipient_unique_per_configuration",
                violation_error_message="This address is already a test recipient.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def as_dict(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name}


class ConfigurationVersion(DeliverySettings):
    """An immutable snapshot of a configuration, secrets still encrypted."""

    configuration = models.ForeignKey(
        EmailConfiguration, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    stage_names = models.JSONField(default=list)
    test_recipients = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["configuration", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["configuration", "number"], name="version_number_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            *DeliverySettings._constraints("version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError("A configuration version is immutable; record a new one.")
        super().save(*args, **kwargs)


class App(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppliedQuerySet(models.QuerySet["AppliedConfiguration"]):
    @staticmethod
    def behind_condition() -> Q:
        """Behind: a newer version of the applied configuration exists, and the older one was
        not applied on purpose (pinned). The one definition.

        Asked of the few versions, not of every applied row: the versions that have a
        newer one are found once, and applied rows match them by their version index.
        """
        newer = ConfigurationVersion.objects.filter(
            configuration=OuterRef("configuration"), number__gt=OuterRef("number")
        )
        return Q(pinned=False) & Q(
            version__in=ConfigurationVersion.objects.filter(Exists(newer)).values("pk")
        )

    def with_latest_number(self) -> AppliedQuerySet:
        """Annotate `latest_number` (the applied configuration's newest) and `is_behind`."""
        latest = (
            ConfigurationVersion.objects.filter(configuration=OuterRef("version__configuration"))
            .order_by("-number")
            .values("number")[:1]
        )
        return self.annotate(
            latest_number=Subquery(latest),
            is_behind=ExpressionWrapper(self.behind_condition(), output_field=BooleanField()),
        )

    def behind(self) -> AppliedQuerySet:
        return self.filter(self.behind_condition())

    def tally(self, by: str) -> dict[object, dict[str, int]]:
        """Per value of `by`: how many applied rows (`using`) and how many of them behind."""
        rows = (
            self.order_by()
            .values(by)
            .annotate(using=Count("pk"), behind=Count("pk", filter=self.behind_condition()))
        )
        return {row[by]: row for row in rows}


class AppliedConfiguration(models.Model):
    """The configuration version an app uses on a stage: one row per (app, stage)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="applied")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="applied")
    version = models.ForeignKey(
        ConfigurationVersion, on_delete=models.PROTECT, related_name="applied"
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(auto_now=True)
    pinned = models.BooleanField(
        default=False,
        help_text="An older version applied on purpose: not shown as behind until a newer "
        "one is applied.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Messages the API accepts per minute for this app on this stage; "
        "blank uses STAGEMAIL_API_RATE_LIMIT.",
    )

    objects = AppliedQuerySet.as_manager()

    class Meta:
        ordering = ["app", "stage__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "stage"],
                name="applied_once_per_app_and_stage",
                violation_error_message="This app already has a configuration on this stage.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.app} on {self.stage}: {self.version}"

    def clean(self) -> None:
        if self.version_id is None or self.stage_id is None:
            return  # the missing field already has its own error
        covered = StageCoverage.objects.filter(
            stage_id=self.stage_id, configuration_id=self.version.configuration_id
        ).exists()
        if not covered:
            raise ValidationError(
                {
                    "version": f"“{self.version.configuration}” does not cover {self.stage}; "
                    "only a configuration that covers a stage can be applied there."
                },
                code="stage_not_covered",
            )
