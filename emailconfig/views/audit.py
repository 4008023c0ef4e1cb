"""The audit trail: a filtered list, and the same list as CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from emailconfig.forms.audit import AuditFilter
from emailconfig.models import AuditEntry
from emailconfig.pagination import CappedPaginator, paginate
from emailconfig.views.guards import administrator_required

SECTION = "audit"
CSV_COLUMNS = ["time", "who", "address", "action", "target", "stage", "details"]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _filtered(request: HttpRequest) -> tuple[AuditFilter, Any]:
    form = AuditFilter(request.GET or None)
    return form, form.filter(AuditEntry.objects.all())


@administrator_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    listing = paginate(request, entries, paginator=CappedPaginator)
    return render(
        request, "emailconfig/audit/list.html", {"section": SECTION, "form": form, **listing}
    )


@administrator_required
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every entry the filters select, streamed: a year of entries never sits in memory."""
    _, entries = _filtered(request)
    response = StreamingHttpResponse(_csv_lines(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="stagemail-audit-{stamp}.csv"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                safe_cell(value)
                for value in (
                    timezone.localtime(entry.at).isoformat(),
                    entry.actor,
                    entry.address or "",
                    entry.get_action_display(),
                    entry.target,
                    entry.stage,
                    json.dumps(entry.details, ensure_ascii=False) if entry.details else "",
                )
            ]
        )


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one that looks like a formula gets a quote first."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
