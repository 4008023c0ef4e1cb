"""The search box of the portal's long lists (a GET `q`), and the apps list's filter."""

from __future__ import annotations

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

    def filter(self, rows: QuerySet) -> QuerySet:
        rows = super().filter(rows)
        if self.is_valid() and self.cleaned_data["behind"]:
            rows = rows.filter(pk__in=AppliedConfiguration.objects.behind().values("app"))
        return rows
