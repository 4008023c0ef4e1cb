"""Forms for stages and registered apps."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import slugify

from emailconfig.models import App, Stage


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
