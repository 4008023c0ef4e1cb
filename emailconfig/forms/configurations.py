"""Validation of email configurations: every rule an admin can break, with its wording."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from emailconfig import outbound, production
from emailconfig.access import Access
from emailconfig.delivery import DeliverySettings
from emailconfig.forms.fields import AddressField
from emailconfig.forms.production import ProductionConfirmationMixin
from emailconfig.forms.secrets import KEEP_STORED_SECRET, SecretFieldsMixin, SecretFormField
from emailconfig.models import (
    ConfigurationVersion,
    EmailConfiguration,
    Engine,
    Security,
    Stage,
    StageCoverage,
)
from emailconfig.services import configurations as services
from emailconfig.validators import is_loopback, validate_header_safe, validate_host, wire_address

CONFIGURATION_FIELDS = [
    "based_on",
    "name",
    "stages",
    "engine",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_requires_auth",
    "smtp_username",
    "smtp_password",
    "trusted_ca",
    "sendgrid_api_key",
    "sendgrid_endpoint",
    "from_email",
    "from_name",
    "reply_to",
    "envelope_from",
    "subject_prefix",
    "recipients_mode",
    "connect_timeout",
    "send_timeout",
]


# Where each secret is sent: a stored secret goes only to the server it was entered for.
SECRET_DESTINATIONS = {
    "smtp_password": ("smtp_host", "smtp_port", "smtp_security", "trusted_ca"),
    "sendgrid_api_key": ("sendgrid_endpoint", "trusted_ca"),
}


def sends_secret(name: str, value_of: Callable[[str], Any]) -> bool:
    """Whether settings (read through `value_of`) send the secret `name` anywhere."""
    if name == "smtp_password":
        return value_of("engine") == Engine.SMTP and bool(value_of("smtp_requires_auth"))
    return value_of("engine") == Engine.SENDGRID


def destination(name: str, value_of: Callable[[str], Any]) -> tuple[str, ...]:
    """The server a secret is sent to, as settings (read through `value_of`: a model, a
    form's cleaned or posted data) name it: host names and URLs without regard to case, a
    URL by its scheme and host only, certificates without regard to whitespace."""
    parts = []
    for field in SECRET_DESTINATIONS[name]:
        value = str(value_of(field) or "")
        if field == "sendgrid_endpoint":
            url = urlsplit(value)
            value = f"{url.scheme}://{url.netloc}"
        parts.append(" ".join(value.split()) if field == "trusted_ca" else value.lower())
    return tuple(parts)


class StageChoiceField(forms.ModelMultipleChoiceField):
    """Stage checkboxes that name the configuration already holding a stage."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holders: dict[int, str] = {}

    def label_from_instance(self, obj: Stage) -> str:
        holder = self.holders.get(obj.pk)
        return f"{obj.name} (taken by “{holder}”)" if holder else obj.name


class TestRecipientForm(forms.Form):
    """One row of the test list; a row left without an address counts as removed."""

    email = AddressField(label="Address", required=False, max_length=254)
    name = forms.CharField(
        label="Name", max_length=200, required=False, validators=[validate_header_safe]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("name") and not data.get("email") and "email" not in self.errors:
            self.add_error("email", "Enter the address for this name, or remove the row.")
        return data


class BaseTestRecipientFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        kept = [form for form in self.forms if form.is_valid() and self._kept(form)]
        for position in services.repeated_addresses([f.cleaned_data["email"] for f in kept]):
            kept[position].add_error("email", "This address is already in the test list.")

    def _kept(self, form: forms.Form) -> bool:
        return bool(form.cleaned_data.get("email")) and not self._should_delete_form(form)

    def recipients(self) -> list[dict[str, str]]:
        return [
            {"email": form.cleaned_data["email"], "name": form.cleaned_data.get("name", "")}
            for form in self.forms
            if self._kept(form)
        ]


TestRecipientFormSet = forms.formset_factory(
    TestRecipientForm,
    formset=BaseTestRecipientFormSet,
    extra=1,
    can_delete=True,
    max_num=100,
    validate_max=True,
)


class ConfigurationForm(ProductionConfirmationMixin, SecretFieldsMixin, forms.ModelForm):
    stages = StageChoiceField(
        queryset=Stage.objects.none(),
        help_text="A stage can have one configuration; stages marked taken belong to another.",
    )
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = EmailConfiguration
        fields = [name for name in CONFIGURATION_FIELDS if name not in ("stages", "based_on")]
        field_classes = {name: AddressField for name in ("from_email", "reply_to", "envelope_from")}
        widgets = {
            "engine": forms.RadioSelect,
            "recipients_mode": forms.RadioSelect,
            "trusted_ca": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        }

    with_test_list = True  # the admin edits the test list in its own inline instead

    def __init__(
        self, *args: Any, access: Access | None = None, confirming: bool = True, **kwargs: Any
    ) -> None:
        """`confirming=False` for trying a connection, which neither saves nor sends.

        With `access`, only the stages one may edit can be chosen; without, every stage
        (the Django admin, which only administrators reach).
        """
        super().__init__(*args, **kwargs)
        self.confirming = confirming
        # Read before validation copies the posted values onto the instance.
        self.stored_credentials = self.instance.pk is not None and (
            self.instance.smtp_password is not None or bool(self.instance.smtp_username)
        )
        self.removed: list[str] = []  # what saving removed, in sentences for the admin
        if self.with_test_list:
            # Bound, the posted rows are the whole list; unbound, show the stored one.
            stored = self.instance.pk and not self.is_bound
            self.test_list = TestRecipientFormSet(
                self.data if self.is_bound else None,
                prefix="recipients",
                initial=[r.as_dict() for r in self.instance.test_recipients.all()]
                if stored
                else None,
            )
        field = self.fields["stages"]
        field.queryset = access.editable_stages() if access else Stage.objects.all()
        field.holders = dict(
            StageCoverage.objects.exclude(configuration_id=self.instance.pk).values_list(
                "stage_id", "configuration__name"
            )
        )
        if self.instance.pk:
            self.initial.setdefault(
                "stages", list(self.instance.coverages.values_list("stage_id", flat=True))
            )
            latest = self.instance.latest_version()
            self.initial.setdefault("based_on", latest.number if latest else None)
        self.warn_about(production.touched_by_edit(self.instance))
        self.order_fields(CONFIGURATION_FIELDS)

    def clean_stages(self) -> list[Stage]:
        stages = list(self.cleaned_data["stages"])
        problems = services.coverage_conflicts(
            stages, excluding=self.instance
        ) + services.stages_in_use(self.instance, keep=stages)
        if problems:
            raise ValidationError(problems, code="stage_unavailable")
        return stages

    def clean_smtp_host(self) -> str:
        """The host's own rule first: the model's validators run only after clean(), whose
        outbound check would otherwise resolve a name that is not one."""
        host = self.cleaned_data.get("smtp_host", "")
        validate_host(host)
        return host

    def clean_envelope_from(self) -> str:
        """MAIL FROM carries ASCII only: an internationalised domain is kept in its IDNA form."""
        address = self.cleaned_data.get("envelope_from", "")
        return wire_address(address) if address else ""

    def clean_smtp_password(self) -> object:
        value = self.cleaned_data.get("smtp_password")
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(
                "Use only ASCII characters: SMTP authentication as Stagemail sends it "
                "(AUTH PLAIN or LOGIN) carries ASCII only, so this password could never work.",
                code="not_ascii",
            )
        return value

    def clean_sendgrid_endpoint(self) -> str:
        url = self.cleaned_data.get("sendgrid_endpoint", "")
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise ValidationError(
                "Use https: the API key would otherwise travel in clear text.", code="insecure"
            )
        return url

    def is_valid(self) -> bool:
        form_valid = super().is_valid()
        return form_valid and (not self.with_test_list or self.test_list.is_valid())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.with_test_list and self.test_list.is_valid():
            addresses = [r["email"] for r in self.test_list.recipients()]
            try:
                services.check_test_list(data.get("recipients_mode", ""), addresses)
            except ValidationError as exc:
                self.add_error(None, exc)
        engine = data.get("engine")
        if engine == Engine.SMTP:
            self._clean_smtp(data)
        elif engine == Engine.SENDGRID:
            if not self.secret_after_save("sendgrid_api_key"):
                self.add_error("sendgrid_api_key", "Enter the SendGrid API key.")
            if not data.get("sendgrid_endpoint") and "sendgrid_endpoint" not in self.errors:
                self.add_error("sendgrid_endpoint", "Enter the SendGrid endpoint URL.")
            elif "sendgrid_endpoint" not in self.errors:
                self._check_endpoint_destination(data["sendgrid_endpoint"])
        self._require_secret_again_for_a_new_destination(data)
        self.confirm_production(
            production.touched_by_edit(self.instance, data.get("stages") or []),
            required=self.confirming,
        )
        return data

    def _require_secret_again_for_a_new_destination(self, data: dict[str, Any]) -> None:
        """A stored secret goes only where it was entered for: moving it needs it typed again."""
        if self.instance.pk is None:
            return
        stored = type(self.instance).objects.get(pk=self.instance.pk)
        for name in SECRET_DESTINATIONS:
            kept = self.cleaned_data.get(name) is KEEP_STORED_SECRET and self.fields[name].stored
            moved = destination(name, lambda field: getattr(stored, field)) != destination(
                name, data.get
            )
            if sends_secret(name, data.get) and moved and kept and name not in self.errors:
                self.add_error(
                    name,
                    "The server changed (its address, port, security or trusted CA), so type "
                    "this secret again: a stored secret is only sent to the server it was "
                    "entered for.",
                )

    def _allowed(self, field: str, check: Callable[..., None], *args: Any) -> bool:
        """Whether the outbound policy allows a destination; its refusal goes on `field`."""
        try:
            check(*args)
        except outbound.OutboundRefused as refused:
            self.add_error(field, ValidationError(refused.message, code="not_allowed"))
            return False
        return True

    def _check_endpoint_destination(self, url: str) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            self.add_error("sendgrid_endpoint", "The port in this URL is not one from 1 to 65535.")
            return
        host = parts.hostname or ""
        checks = [
            (outbound.check_sendgrid_host, host),
            (outbound.check_port, port, outbound.HTTPS),
            (outbound.check_host, host),
        ]
        for check, *args in checks:
            if not self._allowed("sendgrid_endpoint", check, *args):
                return  # one reason at a time

    def _clean_smtp(self, data: dict[str, Any]) -> None:
        if not data.get("smtp_host") and "smtp_host" not in self.errors:
            self.add_error("smtp_host", "Enter the SMTP server's host name or IP address.")
        port = data.get("smtp_port")
        if port and port <= 65535:  # beyond, the model's own range message says it all
            self._allowed("smtp_port", outbound.check_port, port, outbound.SMTP)
        if data.get("smtp_host") and "smtp_host" not in self.errors:
            self._allowed("smtp_host", outbound.check_host, data["smtp_host"])
        if data.get("smtp_requires_auth"):
            if not data.get("smtp_username") and "smtp_username" not in self.errors:
                self.add_error("smtp_username", "Enter the username the server expects.")
            if not self.secret_after_save("smtp_password") and "smtp_password" not in self.errors:
                self.add_error("smtp_password", "Enter the password for this username.")
            host = data.get("smtp_host", "")
            if data.get("smtp_security") == Security.NONE and host and not is_loopback(host):
                self.add_error(
                    "smtp_security",
                    "Credentials are never sent unencrypted to another machine; "
                    "choose STARTTLS or implicit TLS.",
                )

    @property
    def removes_credentials(self) -> bool:
        """Whether saving the posted values would remove the stored username and password."""
        return (
            self.is_bound
            and self.stored_credentials
            and not (self["engine"].value() == Engine.SMTP and self["smtp_requires_auth"].value())
        )

    def drop_unused_settings(self) -> None:
        """Forget secrets and names the chosen engine and options no longer use, and say so."""
        instance = self.instance
        if instance.engine != Engine.SMTP or not instance.smtp_requires_auth:
            if self.stored_credentials:
                self.removed.append(
                    "The stored username and password were removed: this configuration no "
                    "longer authenticates to an SMTP server."
                )
            instance.smtp_username = ""
            instance.smtp_password = None
        if instance.engine != Engine.SENDGRID:
            if self.fields["sendgrid_api_key"].stored:
                self.removed.append(
                    "The stored SendGrid API key was removed: this configuration no longer "
                    "uses SendGrid."
                )
            instance.sendgrid_api_key = None

    def unsaved_settings(self) -> DeliverySettings:
        """The valid form's values as frozen settings to try, without saving anything.

        A secret left blank is the stored one; validation has already refused that for a
        server it was not entered for.
        """
        self.drop_unused_settings()
        version = services.describe(
            self.instance,
            stage_names=[stage.name for stage in self.cleaned_data["stages"]],
            test_recipients=self.test_list.recipients(),
        )
        settings = DeliverySettings.from_version(version)
        return replace(settings, label=f"{self.instance.name} (unsaved settings)")

    def save_version(
        self, *, author: Any, test_recipients: list[dict[str, str]] | None = None
    ) -> ConfigurationVersion | None:
        """Save through the service; a conflict found there lands on the form's fields.

        Returns the new version, or None when nothing changed or the save was refused
        (then the form has errors).
        """
        if test_recipients is None:
            test_recipients = self.test_list.recipients()
        self.drop_unused_settings()
        was_new = self.instance._state.adding
        try:
            return services.save_configuration(
                self.instance,
                stages=self.cleaned_data["stages"],
                test_recipients=test_recipients,
                author=author,
                based_on=self.cleaned_data.get("based_on"),
            )
        except ValidationError as exc:
            if was_new:  # the transaction rolled back, so the row does not exist
                self.instance.pk = None
                self.instance._state.adding = True
            self.add_error(None, exc)
            return None


class RestoreForm(ProductionConfirmationMixin, forms.Form):
    """Making an older version current: confirmed like an edit, guarded like one."""

    based_on = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, configuration: EmailConfiguration, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = configuration
        self.warn_about(production.touched_by_edit(configuration))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.confirm_production(production.touched_by_edit(self.configuration))
        return data


def form_data(
    settings: EmailConfiguration | ConfigurationVersion,
    *,
    name: str,
    stages: list[Stage],
    test_recipients: list[dict[str, str]],
    secrets: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The configuration form's fields, filled from stored settings, as a browser posts them.

    A secret is posted only when given in `secrets` (its plaintext); left out, the form keeps
    the one stored on the instance it edits.
    """
    data: dict[str, Any] = {"name": name, "stages": [stage.pk for stage in stages]}
    for field_name in ConfigurationVersion.setting_names():
        value = getattr(settings, field_name)
        if isinstance(ConfigurationForm.base_fields.get(field_name), SecretFormField):
            data[f"{field_name}_0"] = (secrets or {}).get(field_name, "")
        elif isinstance(value, bool):
            if value:
                data[field_name] = "on"
        else:
            data[field_name] = "" if value is None else str(value)
    data["recipients-TOTAL_FORMS"] = str(len(test_recipients))
    data["recipients-INITIAL_FORMS"] = "0"
    for number, recipient in enumerate(test_recipients):
        data[f"recipients-{number}-email"] = recipient["email"]
        data[f"recipients-{number}-name"] = recipient.get("name", "")
    return data
