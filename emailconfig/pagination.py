"""Pages of a long list, and the query string their links keep."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 50
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows: an exact count of a million messages costs more than
    the page itself, and nobody pages that far (filters narrow the list instead)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap


def paginate(
    request: HttpRequest, rows: QuerySet, *, paginator: type[Paginator] = Paginator
) -> dict[str, object]:
    """The requested page of `rows`, with the rest of the query for its links."""
    page = paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "page": page,
        "page_links": page.paginator.get_elided_page_range(page.number, on_each_side=2),
        "query": query.urlencode(),
    }
