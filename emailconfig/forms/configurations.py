"""Validation of email configurations: every rule an admin can break, with its wording."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from emailconfig import production
from emailconfig.access import Access
from emailconfig.delivery import DeliverySettings
from emailconfig.engines import ENGINES, EngineOptions, options_of
from emailconfig.engines.options import in_sentence
from emailconfig.engines.smtp import SMTPEngine
from emailconfig.engines.smtp.options import SMTPOptions
from emailconfig.fields import Secret
from emailconfig.forms.fields import AddressField
from emailconfig.forms.production import ProductionConfirmationMixin
from emailconfig.forms.secrets import CLEAR_STORED_SECRET, SecretFormField
from emailconfig.models import (
    ConfigurationVersion,
    EmailConfiguration,
    Stage,
    StageCoverage,
)
from emailconfig.services import configurations as services
from emailconfig.validators import validate_header_safe, wire_address

# Each engine's option fields by name (`smtp_host`), with the options form they belong to.
ENGINE_FIELDS = {
    name: engine.Options for engine in ENGINES.values() for name in engine.Options.base_fields
}
CONFIGURATION_FIELDS = [
    "based_on",
    "name",
    "stages",
    "engine",
    *ENGINE_FIELDS,
    "trusted_ca",
    "from_email",
    "from_name",
    "reply_to",
    "envelope_from",
    "subject_prefix",
    "recipients_mode",
    "connect_timeout",
    "send_timeout",
]

# Every engine's option fields, so one form shows them all and the script switches between
# them; only the chosen engine's are checked (by its own form) and stored.
EngineFields = type(
    "EngineFields",
    (forms.Form,),
    {name: options.base_fields[name] for name, options in ENGINE_FIELDS.items()},
)


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


class ConfigurationForm(ProductionConfirmationMixin, EngineFields, forms.ModelForm):
    stages = StageChoiceField(
        queryset=Stage.objects.none(),
        help_text="A stage can have one configuration; stages marked taken belong to another.",
    )
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = EmailConfiguration
        fields = [
            name
            for name in CONFIGURATION_FIELDS
            if name not in ("stages", "based_on") and name not in ENGINE_FIELDS
        ]
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
        # Read before saving puts the new options and secrets on the instance.
        self.stored_engine = self.instance.engine if self.instance.pk else ""
        self.stored_secrets = dict(self.instance.secrets) if self.instance.pk else {}
        self.options_form: EngineOptions | None = None  # the chosen engine's, once cleaned
        self.removed: list[str] = []  # what saving removed, in sentences for the admin
        self._show_stored_options()
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

    def _show_stored_options(self) -> None:
        """The stored engine's options as initial values, its secrets as stored."""
        options_class = options_of(self.stored_engine)
        if options_class is None:
            return
        for name, value in options_class.initial(self.instance.options).items():
            self.initial.setdefault(name, value)
        for option in self.stored_secrets:
            field = self.fields.get(options_class.field_name(option))
            if isinstance(field, SecretFormField):
                field.stored = True

    def typed_secrets(self) -> list[str]:
        """The labels of the chosen engine's secrets that were typed in and are used."""
        options_form = self.options_form
        if options_form is None or not options_form.is_valid():
            return []
        options = options_form.options()
        return [
            in_sentence(str(field.label))
            for option, field in options_form.secret_fields()
            if options_form.applies(option, options)
            and isinstance(options_form.cleaned_data.get(options_form.field_name(option)), str)
        ]

    def _stored_secrets_for(self, options_class: type[EngineOptions]) -> dict[str, Secret]:
        return self.stored_secrets if options_class.engine == self.stored_engine else {}

    def engine_sections(self) -> list[dict[str, Any]]:
        """Each engine's fields as its template lays them out."""
        return [
            {"template_name": engine.Options.template_name, "rows": engine.Options.rows(self)}
            for engine in ENGINES.values()
        ]

    def clean_envelope_from(self) -> str:
        """MAIL FROM carries ASCII only: an internationalised domain is kept in its IDNA form."""
        address = self.cleaned_data.get("envelope_from", "")
        return wire_address(address) if address else ""

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
        self.options_form = self._clean_engine_options(data)
        self._require_secret_again_for_a_new_destination(data)
        self.confirm_production(
            production.touched_by_edit(self.instance, data.get("stages") or []),
            required=self.confirming,
        )
        return data

    def _clean_engine_options(self, data: dict[str, Any]) -> EngineOptions | None:
        """The chosen engine's options, checked by its own form; the other engines' fields
        are neither checked nor kept."""
        for name in ENGINE_FIELDS:
            self._errors.pop(name, None)
            data.pop(name, None)
        options_class = options_of(data.get("engine", ""))
        if options_class is None:
            return None  # the engine field has its error
        options_form = options_class(self.data, stored=self._stored_secrets_for(options_class))
        if options_form.is_valid():
            data.update(options_form.cleaned_data)
        else:
            for name, errors in options_form.errors.as_data().items():
                self.add_error(None if name == NON_FIELD_ERRORS else name, errors)
        return options_form

    def _require_secret_again_for_a_new_destination(self, data: dict[str, Any]) -> None:
        """A stored secret goes only where it was entered for: moving it needs it typed again."""
        options_form = self.options_form
        if self.instance.pk is None or options_form is None or not options_form.is_valid():
            return
        stored = type(self.instance).objects.get(pk=self.instance.pk)
        if stored.engine != options_form.engine:
            return  # another engine's secrets are never kept, so every one is typed anew
        after = (options_form.options(), data.get("trusted_ca", ""))
        for secret in options_form.secret_destinations:
            name = options_form.field_name(secret)
            changes = options_form.destination_changes(
                secret, (stored.options, stored.trusted_ca), after
            )
            used = options_form.applies(secret, after[0])
            if used and changes and options_form.kept(secret) and name not in self.errors:
                self.add_error(
                    name,
                    f"The server changed ({', '.join(changes)}), so type this secret again: a "
                    "stored secret is only sent to the server it was entered for.",
                )

    @property
    def stored_credentials(self) -> bool:
        """Whether the configuration holds a secret for signing in to an SMTP server."""
        return self.stored_engine == SMTPEngine.key and bool(self.stored_secrets)

    @property
    def removes_credentials(self) -> bool:
        """Whether saving the posted values would remove the stored sign-in secrets."""
        if not (self.is_bound and self.stored_credentials):
            return False
        if self["engine"].value() != SMTPEngine.key:
            return True
        posted = {
            option: self[SMTPOptions.field_name(option)].value()
            for option in SMTPOptions.option_names()
            if not SMTPOptions.is_secret(option)
        }
        return not any(SMTPOptions.applies(secret, posted) for secret in self.stored_secrets)

    def apply_engine_options(self) -> None:
        """Put the chosen engine's options and secrets on the instance; say which stored
        secret that removes because nothing uses it any more."""
        options_form = self.options_form
        assert options_form is not None, "apply_engine_options() needs a valid form"  # noqa: S101
        self.instance.options = options_form.options()
        self.instance.secrets = options_form.secrets()
        stored_class = options_of(self.stored_engine)
        for option in self.stored_secrets:
            label = in_sentence(stored_class.label(option)) if stored_class else option
            cleared = options_form.cleaned_data.get(options_form.field_name(option))
            if option not in self.instance.secrets and cleared is not CLEAR_STORED_SECRET:
                self.removed.append(
                    f"The stored {label} was removed: this configuration no longer uses it."
                )

    def unsaved_settings(self) -> DeliverySettings:
        """The valid form's values as frozen settings to try, without saving anything.

        A secret left blank is the stored one; validation has already refused that for a
        server it was not entered for.
        """
        self.apply_engine_options()
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
        self.apply_engine_options()
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

    A secret is posted only when given in `secrets` (its plaintext, by field name); left out,
    the form keeps the one stored on the instance it edits.
    """
    data: dict[str, Any] = {"name": name, "stages": [stage.pk for stage in stages]}
    # Every engine's fields start as a new form shows them, so switching engine finds them.
    data |= {
        field_name: str(field.initial)
        for field_name, field in EngineFields.base_fields.items()
        if field.initial is not None and not isinstance(field, SecretFormField)
    }
    for field_name, value in settings.setting_values().items():
        if isinstance(ConfigurationForm.base_fields.get(field_name), SecretFormField):
            continue
        if isinstance(value, bool):
            if value:
                data[field_name] = "on"
        else:
            data[field_name] = "" if value is None else str(value)
    for field_name, plaintext in (secrets or {}).items():
        data[f"{field_name}_0"] = plaintext
    data["recipients-TOTAL_FORMS"] = str(len(test_recipients))
    data["recipients-INITIAL_FORMS"] = "0"
    for number, recipient in enumerate(test_recipients):
        data[f"recipients-{number}-email"] = recipient["email"]
        data[f"recipients-{number}-name"] = recipient.get("name", "")
    return data
