"""Issuing an administrator token: a name, read or write, and stages of one's own."""

from __future__ import annotations

from typing import Any

from django import forms

from emailconfig.access import Access
from emailconfig.models import Stage, TokenScope


class AdminTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses it, e.g. “deploy script”: shown in the audit trail."
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        widget=forms.RadioSelect,
        help_text="Write also lets it change what you may change, never more.",
    )
    stages = forms.ModelMultipleChoiceField(
        queryset=Stage.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only stages you see; the token loses a stage when you do.",
    )

    def __init__(self, *args: Any, access: Access, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stages"].queryset = access.stages()
