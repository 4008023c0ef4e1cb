"""A configuration as JSON: the configuration form's own fields, posted to that form.

The body's schema is built from ConfigurationForm's fields, so the API takes exactly what
the portal's form takes and the form alone decides what is valid.
"""

from __future__ import annotations

from typing import Any, Literal

from django import forms
from ninja import Field
from pydantic import create_model

from emailconfig.access import Access
from emailconfig.api.admin.schemas import Strict
from emailconfig.forms.configurations import ConfigurationForm, form_data
from emailconfig.forms.production import CONFIRM_FIELD
from emailconfig.forms.secrets import SecretFormField
from emailconfig.models import EmailConfiguration, Stage


class TestRecipientIn(Strict):
    email: str
    name: str = ""


def _annotation(field: forms.Field) -> Any:
    if isinstance(field, SecretFormField):
        return str | None
    if isinstance(field, forms.ModelMultipleChoiceField):
        return list[str]
    if isinstance(field, forms.BooleanField):
        return bool
    if isinstance(field, forms.IntegerField):
        return int
    if isinstance(field, forms.ChoiceField):
        return Literal[tuple(value for value, _ in field.choices)]  # type: ignore[misc]
    return str


_DESCRIPTIONS = {
    "stages": "Slugs of the stages it covers.",
    "based_on": "On an edit, required: the version number the edit starts from. A newer "
    "one saved meanwhile answers 409 and nothing is saved.",
}
WRITE_ONLY = "Write-only. Left out: the stored one is kept; null: removed."


def _description(name: str, field: forms.Field) -> str:
    if name in _DESCRIPTIONS:
        return _DESCRIPTIONS[name]
    text = str(field.help_text or field.label or "")
    return f"{text} {WRITE_ONLY}".strip() if isinstance(field, SecretFormField) else text


ConfigurationIn = create_model(
    "ConfigurationIn",
    __base__=Strict,
    __doc__="The configuration form's fields. On an edit, fields left out keep their value.",
    **{
        name: (
            _annotation(field),
            Field(None, description=_description(name, field)),
        )
        for name, field in ConfigurationForm.base_fields.items()
    },
    test_recipients=(list[TestRecipientIn], Field(None, description="The whole test list.")),
    confirm_stage=(str, Field(None, description="On a production stage: its name, exactly.")),
)


def posted(
    configuration: EmailConfiguration, body: dict[str, Any], access: Access
) -> dict[str, Any]:
    """The form's POST data: the stored configuration (or a new one's defaults) with the
    body's fields over it."""
    stored = configuration.pk is not None
    data = form_data(
        configuration,
        name=configuration.name,
        stages=list(Stage.objects.filter(coverage__configuration=configuration)) if stored else [],
        test_recipients=[r.as_dict() for r in configuration.test_recipients.all()]
        if stored
        else [],
    )
    by_slug = {stage.slug: str(stage.pk) for stage in access.stages()}
    for name, value in body.items():
        field = ConfigurationForm.base_fields.get(name)
        if name == "stages":
            data["stages"] = [by_slug.get(slug, slug) for slug in value]
        elif name == "test_recipients":
            data.update(_test_list(value))
        elif isinstance(field, SecretFormField):
            data[f"{name}_1" if value is None else f"{name}_0"] = "on" if value is None else value
        elif isinstance(field, forms.BooleanField):
            data.pop(name, None)
            if value:
                data[name] = "on"
        elif name in ("based_on", CONFIRM_FIELD) or field is not None:
            data[name] = "" if value is None else str(value)
    return data


def _test_list(recipients: list[dict[str, str]]) -> dict[str, str]:
    data = {"recipients-TOTAL_FORMS": str(len(recipients)), "recipients-INITIAL_FORMS": "0"}
    for number, recipient in enumerate(recipients):
        data[f"recipients-{number}-email"] = recipient["email"]
        data[f"recipients-{number}-name"] = recipient.get("name", "")
    return data
