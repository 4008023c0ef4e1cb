"""Filters for the audit trail's page and its CSV export."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from emailconfig.forms.lists import PeriodFilter
from emailconfig.models import AuditAction, AuditEntry, Stage


class AuditFilter(PeriodFilter):
    period_field = "at"
    field_order = ["actor", "action", "stage", "since", "until", "q"]
    actor = forms.CharField(
        required=False, max_length=150, label="Who", help_text="A username, exactly."
    )
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.all(),
        required=False,
        empty_label="All stages",
        to_field_name="name",
    )
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        help_text="Words of what was acted on, an address, or of the details.",
        widget=forms.TextInput({"type": "search"}),
    )

    def filter(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if not self.is_bound:
            return entries
        if not self.is_valid():
            return entries.none()
        data: dict[str, Any] = self.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor=data["actor"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["stage"]:
            entries = entries.filter(_on_stage(data["stage"].name))
        entries = self.in_period(entries)
        if data["q"]:
            term = data["q"]
            entries = entries.filter(
                Q(target__icontains=term)
                | Q(address__startswith=term)
                | Q(details__icontains=term)  # the JSON's text
            )
        return entries


def _on_stage(name: str) -> Q:
    """Entries about the stage: a configuration's entry lists all its stages, ", "-joined."""
    return (
        Q(stage=name)
        | Q(stage__startswith=f"{name}, ")
        | Q(stage__endswith=f", {name}")
        | Q(stage__contains=f", {name}, ")
    )
