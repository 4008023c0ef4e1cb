"""The search box of the portal's long lists (a GET `q`), their From and Until period, and the
apps list's filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict

from emailconfig.models import AppliedConfiguration


class ListSearch(forms.Form):
    """Rows containing `q` in any of `fields` (case-insensitive); every row without `q`."""

    q = forms.CharField(required=False, max_length=200, widget=forms.TextInput({"type": "search"}))

    def __init__(self, data: QueryDict, *, label: str, fields: tuple[str, ...]) -> None:
        super().__init__(data)
        self.fields["q"].label = label
        self.search_fields = fields

    def filter(self, rows: QuerySet) -> QuerySet:
        if not self.is_valid():
            return rows.none()
        term = self.cleaned_data["q"]
        if not term:
            return rows
        matches = Q()
        for field in self.search_fields:
            matches |= Q(**{f"{field}__icontains": term})
        return rows.filter(matches)


class AppSearch(ListSearch):
    behind = forms.BooleanField(required=False, label="Only apps behind")

    def __init__(self, data: QueryDict, *, stages: QuerySet, **kwargs: Any) -> None:
        """`stages`: the ones the viewer sees; behind elsewhere does not count."""
        super().__init__(data, **kwargs)
        self.stages = stages

    def filter(self, rows: QuerySet) -> QuerySet:
        rows = super().filter(rows)
        if self.is_valid() and self.cleaned_data["behind"]:
            behind = AppliedConfiguration.objects.behind().filter(stage__in=self.stages)
            rows = rows.filter(pk__in=behind.values("app"))
        return rows


class PeriodFilter(forms.Form):
    """From and Until, both ends included, on the list's `period_field` (a date and time)."""

    period_field = ""
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def in_period(self, rows: QuerySet) -> QuerySet:
        if since := self.cleaned_data["since"]:
            rows = rows.filter(**{f"{self.period_field}__gte": since})
        if until := self.cleaned_data["until"]:
            rows = rows.filter(**{f"{self.period_field}__lte": until})
        return rows
