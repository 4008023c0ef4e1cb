"""Filters for the outbox list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.expressions import OrderBy

from emailconfig.forms.lists import PeriodFilter
from emailconfig.models import PENDING_STATUSES, App, Message, MessageStatus, Stage

PENDING = "pending"


class OutboxFilter(PeriodFilter):
    period_field = "created_at"
    field_order = ["app", "stage", "status", "since", "until", "q"]
    # A text field, not a list: a select of ten thousand apps would outweigh the page.
    app = forms.ModelChoiceField(
        queryset=App.objects.all(),
        required=False,
        to_field_name="slug",
        label="App (slug)",
        widget=forms.TextInput,
        error_messages={"invalid_choice": "No app has this slug."},
    )
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.all(), required=False, empty_label="All stages"
    )
    status = forms.ChoiceField(
        choices=[
            ("", "Any status"),
            (PENDING, "Waiting (queued, deferred, sending)"),
            *MessageStatus.choices,
        ],
        required=False,
    )
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        help_text="Words of the subject, a recipient's whole address, or a Message-ID.",
        widget=forms.TextInput({"type": "search"}),
    )

    def __init__(self, *args: Any, stages: QuerySet[Stage], **kwargs: Any) -> None:
        """`stages`: the ones the viewer sees, to choose from."""
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = stages

    def filter(self, messages: QuerySet[Message]) -> QuerySet[Message]:
        if not self.is_valid():
            return messages.none()
        data: dict[str, Any] = self.cleaned_data
        if data["app"]:
            messages = messages.filter(app=data["app"])
        if data["stage"]:
            messages = messages.filter(stage=data["stage"])
        if data["status"] == PENDING:
            messages = messages.filter(status__in=PENDING_STATUSES)
        elif data["status"]:
            messages = messages.filter(status=data["status"])
        messages = self.in_period(messages)
        if data["q"]:
            messages = messages.filter(_matching(data["q"]))
        return messages

    def ordering(self) -> OrderBy | str:
        """Newest first; with a search, by an expression the time index cannot serve.

        Otherwise PostgreSQL, asked for the few rows of a page, walks that index through
        millions of messages looking for a rare match instead of using the search's index.
        """
        searching = self.is_bound and self.is_valid() and self.cleaned_data["q"]
        return UNINDEXED_TIME.desc() if searching else "-created_at"


UNINDEXED_TIME = ExpressionWrapper(F("created_at") + timedelta(0), output_field=DateTimeField())


def _matching(term: str) -> Q:
    """Each kind of search on its own index, so it stays fast among millions of messages."""
    if term.startswith("<") and term.endswith(">"):
        return Q(message_id=term)
    try:
        validate_email(term)
    except ValidationError:
        return Q(subject__icontains=term)  # a trigram index on PostgreSQL
    if not connection.features.supports_json_field_contains:  # SQLite
        return Q(final_recipients__icontains=term) | Q(recipients__icontains=term)
    addressed = Q(final_recipients__contains=[term])
    for field in ("to", "cc", "bcc"):
        addressed |= Q(recipients__contains={field: [{"email": term}]})
    return addressed
