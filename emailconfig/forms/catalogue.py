"""Forms for stages and registered apps."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import slugify

from emailconfig import production
from emailconfig.access import Access
from emailconfig.forms.production import ProductionConfirmationMixin
from emailconfig.models import App, ConfigurationVersion, Stage

RESERVED_SLUGS = frozenset({"new"})  # taken by the "create" pages' URLs


class SlugFromNameMixin:
    """Fill a blank slug from the name, and say so when the result is taken."""

    cleaned_data: dict[str, Any]
    fields: dict[str, forms.Field]
    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))
        if not slug:
            raise forms.ValidationError("Enter a slug: letters, numbers, hyphens.")
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"The slug “{slug}” is reserved; choose another.")
        taken = type(self.instance).objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"The slug “{slug}” is already used.")
        return slug


class StageForm(SlugFromNameMixin, forms.ModelForm):
    class Meta:
        model = Stage
        fields = ["name", "slug", "is_production"]
        help_texts = {"slug": "Used in URLs and the API. Leave blank to derive it from the name."}


class AppForm(SlugFromNameMixin, forms.ModelForm):
    class Meta:
        model = App
        fields = ["name", "slug", "description"]
        help_texts = {"slug": "Used in URLs and the API. Leave blank to derive it from the name."}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class ApplyForm(ProductionConfirmationMixin, forms.Form):
    """The version confirmed on the apply page; coverage is checked by the service.

    Only versions of configurations one sees can be chosen: another one answers as a
    version that does not exist, not with its configuration's name.
    """

    version = forms.ModelChoiceField(queryset=ConfigurationVersion.objects.none())

    def __init__(self, *args: Any, stage: Stage, access: Access, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage = stage
        self.fields["version"].queryset = ConfigurationVersion.objects.filter(
            configuration__in=access.configurations()
        )
        self.warn_about(production.touched_by_apply(stage))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.confirm_production(production.touched_by_apply(self.stage))
        return data


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])
