"""The outbox: every accepted message, its attempts, and the admin's retry and cancel."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from emailconfig import mime
from emailconfig.audit import Actor
from emailconfig.forms.outbox import OutboxFilter
from emailconfig.pagination import CappedPaginator, paginate
from emailconfig.services import outbox
from emailconfig.views.framed import html_part
from emailconfig.views.guards import access, allow, member_required

SECTION = "outbox"
BODIES = ("raw", "recipients", "original_recipients")  # not in the list


@member_required
def outbox_list(request: HttpRequest) -> HttpResponse:
    form = OutboxFilter(request.GET or None, stages=access(request).stages())
    # Apps and stages fetched for the page's rows only: joined, they would be joined to
    # every row an OFFSET skips too.
    found = access(request).messages().prefetch_related("app", "stage").defer(*BODIES)
    found = form.filter(found) if form.is_bound else found
    listing = paginate(request, found.order_by(form.ordering()), paginator=CappedPaginator)
    return render(
        request, "emailconfig/outbox/list.html", {"section": SECTION, "form": form, **listing}
    )


@member_required
def message_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    message = get_object_or_404(
        access(request).messages().select_related("app", "stage", "version__configuration"),
        pk=pk,
    )
    return render(
        request,
        "emailconfig/outbox/detail.html",
        {
            "section": SECTION,
            "message": message,
            "can_act": access(request).edits(message.stage),
            "shown": mime.read(bytes(message.raw)),
            "attempts": message.attempts.all(),
        },
    )


@member_required
def message_html(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The HTML part, for the message page's sandboxed frame."""
    message = get_object_or_404(access(request).messages().only("raw"), pk=pk)
    return html_part(mime.read(bytes(message.raw)).html)


@member_required
def message_eml(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The stored message, byte for byte as every attempt sent it."""
    message = get_object_or_404(access(request).messages().only("raw"), pk=pk)
    response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="{message.pk}.eml"'
    return response


@require_POST
@member_required
def message_action(request: HttpRequest, pk: UUID, action: str) -> HttpResponse:
    message = get_object_or_404(access(request).messages().select_related("stage"), pk=pk)
    allow(access(request).edits(message.stage))
    if action == "retry":
        done = outbox.retry(message, by=Actor.of(request))
        text = "Queued again; a worker will send it shortly." if done else outbox.NOT_RETRYABLE
    else:
        done = outbox.cancel(message, by=Actor.of(request))
        text = "Cancelled; it will not be sent." if done else outbox.NOT_CANCELLABLE
    (messages.success if done else messages.error)(request, text)
    return redirect("emailconfig:message_detail", pk=message.pk)
