"""Email template and preview forms: syntax, sample data and recipients, with precise errors."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from emailconfig import production
from emailconfig.access import Access
from emailconfig.delivery import Address
from emailconfig.forms.production import ProductionConfirmationMixin
from emailconfig.models import EmailConfiguration, EmailTemplate, Stage, StageCoverage
from emailconfig.render_pool import render
from emailconfig.rendering import RenderError
from emailconfig.validators import address_error, wire_address

MAX_SAMPLE_DATA = 64_000
MAX_TYPED_RECIPIENTS = 5
PARTS = {"subject": False, "text_body": False, "html_body": True}  # field -> is HTML


class JSONObjectField(forms.CharField):
    """A JSON object typed in a textarea, with the parser's position on error."""

    widget = forms.Textarea(attrs={"rows": 8, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, dict):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value or ""

    def to_python(self, value: Any) -> dict[str, Any]:
        text = (value or "").strip() or "{}"
        if len(text) > MAX_SAMPLE_DATA:
            raise ValidationError(f"Keep sample data under {MAX_SAMPLE_DATA:,} characters.")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        except (RecursionError, ValueError):  # absurd nesting, or a number too long to read
            raise ValidationError(
                "This JSON nests too deeply or holds a number too long."
            ) from None
        try:
            text.encode("utf-8")
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("The JSON holds characters that are not valid Unicode.") from None
        if not isinstance(data, dict):
            raise ValidationError('Sample data must be a JSON object, such as {"name": "Ada"}.')
        return data


class EmailTemplateForm(forms.ModelForm):
    sample_data = JSONObjectField(
        required=False,
        help_text="JSON used for previews; the template's variables are its keys.",
    )

    class Meta:
        model = EmailTemplate
        fields = ["key", "name", "subject", "text_body", "html_body", "sample_data"]
        widgets = {
            "subject": forms.TextInput(attrs={"spellcheck": "false"}),
            "text_body": forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
            "html_body": forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        }
        help_texts = {
            "subject": "Jinja2, one line, e.g. Welcome, {{ user.name }}",
            "text_body": "Plain-text part (Jinja2).",
            "html_body": "HTML part (Jinja2, values are escaped automatically).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("text_body") and not data.get("html_body"):
            self.add_error("text_body", "Write a text body, an HTML body, or both.")
        names = [name for name in PARTS if data.get(name) and name not in self.errors]
        sample = "sample_data" in data and "sample_data" not in self.errors
        if not names:
            return data
        try:  # compiled, and rendered with the sample data, in one bounded render
            outcomes = render(
                [(data[name], PARTS[name]) for name in names],
                data["sample_data"] if sample else None,
            )
        except RenderError as exc:
            self.add_error(None, f"With the sample data: {exc}" if sample else str(exc))
            return data
        for name, outcome in zip(names, outcomes, strict=True):
            if outcome.error and not outcome.compiled:
                self.add_error(name, str(outcome.error))
            elif outcome.error:
                self.add_error(name, f"With the sample data: {outcome.error}")
        return data


def _addresses(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


class PreviewForm(ProductionConfirmationMixin, forms.Form):
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.all(),
        required=False,
        empty_label="Choose a stage…",
        help_text="Uses the configuration that covers it.",
    )
    configuration = forms.ModelChoiceField(
        queryset=EmailConfiguration.objects.none(),
        required=False,
        empty_label="…or a configuration",
        help_text="Its newest version is used, test list included.",
    )
    template = forms.ModelChoiceField(queryset=EmailTemplate.objects.all())
    sample_data = JSONObjectField(
        required=False,
        label="Sample data",
        help_text="JSON. Leave blank to use the template's own sample data.",
    )
    send_to = forms.CharField(
        required=False,
        label="Recipients as the app would name them",
        help_text=f"Up to {MAX_TYPED_RECIPIENTS} addresses, comma-separated. Blank: your own "
        "address. With a test list they are replaced by its recipients.",
    )

    def __init__(self, *args: Any, user: Any, access: Access, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.sending = "send" in self.data  # previewing only needs no confirmation
        self.fields["stage"].queryset = access.stages()
        configurations = access.configurations().prefetch_related("coverages__stage")
        self.fields["configuration"].queryset = configurations
        self.fields["configuration"].label_from_instance = lambda c: (
            f"{c.name} ({', '.join(cov.stage.name for cov in c.coverages.all()) or 'no stage'})"
        )
        if not self.is_bound and "template" not in self.initial:
            templates = list(EmailTemplate.objects.all()[:2])
            if len(templates) == 1:  # e.g. only `make run`'s example: nothing to choose
                self.initial["template"] = templates[0].pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        stage, configuration = data.get("stage"), data.get("configuration")
        if stage and configuration and not configuration.coverages.filter(stage=stage).exists():
            self.add_error("configuration", f"“{configuration}” does not cover {stage}.")
        elif stage and not configuration:
            coverage = StageCoverage.objects.select_related("configuration").filter(stage=stage)
            if not coverage:
                self.add_error("stage", f"No configuration covers {stage} yet.")
            else:
                data["configuration"] = coverage[0].configuration
        elif not configuration:
            self.add_error("stage", "Choose a stage or a configuration.")
        if data.get("configuration"):
            self.confirm_production(
                production.touched_by_test_send(data["configuration"]), required=self.sending
            )
        return data

    def clean_send_to(self) -> tuple[Address, ...]:
        typed = _addresses(self.cleaned_data.get("send_to", ""))
        if not typed:
            if not getattr(self.user, "email", ""):
                raise ValidationError("Your account has no email address; type one here.")
            return (Address(self.user.email, self.user.get_full_name()),)
        if len(typed) > MAX_TYPED_RECIPIENTS:
            raise ValidationError(f"At most {MAX_TYPED_RECIPIENTS} addresses for a test.")
        for address in typed:
            try:
                wire_address(address)
            except ValidationError as error:
                raise ValidationError(address_error(address, error)) from None
        return tuple(Address(address) for address in typed)
