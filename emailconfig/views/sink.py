"""What the local development sink received: the list, a message opened as Mailpit does,
and deleting.

The HTML part is served from its own URL into a sandboxed frame (see views/framed.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from io import BytesIO
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from emailconfig import received
from emailconfig.forms.lists import ListSearch
from emailconfig.models import SinkMessage
from emailconfig.pagination import paginate
from emailconfig.services import sink as sink_services
from emailconfig.views.framed import SHOWN_MAIL_POLICY, html_part
from emailconfig.views.guards import editor_required, member_required

SECTION = "sink"
SEARCHED = ("subject", "mail_from", "rcpt_tos")


def sink_enabled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The sink's pages exist only where the sink does (STAGEMAIL_LOCAL_SINK, on with DEBUG)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.STAGEMAIL_LOCAL_SINK:
            raise Http404("The local sink is off (STAGEMAIL_LOCAL_SINK).")
        return view(request, *args, **kwargs)

    return guarded


@sink_enabled
@member_required
def sink(request: HttpRequest) -> HttpResponse:
    """What the local development sink (started by `make run`) received."""
    search = ListSearch(request.GET, label="Search (subject, sender or recipient)", fields=SEARCHED)
    received_mail = search.filter(SinkMessage.objects.defer("raw").order_by("-received_at"))
    return render(
        request,
        "emailconfig/sink/list.html",
        {"section": SECTION, "search": search, **paginate(request, received_mail)},
    )


def _read(pk: int) -> tuple[SinkMessage, received.ReceivedMail]:
    message = get_object_or_404(SinkMessage, pk=pk)
    return message, received.read(bytes(message.raw))


@sink_enabled
@member_required
def sink_message(request: HttpRequest, pk: int) -> HttpResponse:
    message, mail = _read(pk)
    return render(
        request,
        "emailconfig/sink/detail.html",
        {"section": SECTION, "message": message, "mail": mail},
    )


@sink_enabled
@member_required
def sink_html(request: HttpRequest, pk: int) -> HttpResponse:
    _, mail = _read(pk)
    return html_part(mail.html)


@sink_enabled
@member_required
def sink_attachment(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    _, mail = _read(pk)
    if not 1 <= number <= len(mail.attachments):
        raise Http404("No such attachment.")
    attachment = mail.attachments[number - 1]
    response = FileResponse(
        BytesIO(attachment.content),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    # Were it ever rendered, it runs nothing.
    response["Content-Security-Policy"] = SHOWN_MAIL_POLICY
    return response


@sink_enabled
@member_required
def sink_raw(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(SinkMessage, pk=pk)
    return FileResponse(
        BytesIO(bytes(message.raw)),
        as_attachment=True,
        filename=f"sink-{message.pk}.eml",
        content_type="message/rfc822",
    )


@sink_enabled
@editor_required
def sink_delete(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(SinkMessage.objects.defer("raw"), pk=pk)
    if request.method == "POST":
        sink_services.delete_received(message)
        messages.success(request, f"Deleted “{message.subject or '(no subject)'}”.")
        return redirect("emailconfig:sink")
    return render(
        request, "emailconfig/sink/delete_confirm.html", {"section": SECTION, "message": message}
    )


@sink_enabled
@editor_required
def sink_delete_all(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        deleted = sink_services.delete_all_received()
        messages.success(request, f"Deleted every received message ({deleted}).")
        return redirect("emailconfig:sink")
    return render(
        request,
        "emailconfig/sink/delete_confirm.html",
        {"section": SECTION, "count": SinkMessage.objects.count()},
    )
