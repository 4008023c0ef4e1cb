"""Messages of the token's stages: list with filters, get, retry, cancel."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router

from emailconfig.api.admin import answers
from emailconfig.api.admin.schemas import MessageFilters, MessageSummary
from emailconfig.api.admin.scope import access, actor, allow, form_refusal, found
from emailconfig.api.schemas import MessageOut, message_status
from emailconfig.forms.outbox import OutboxFilter
from emailconfig.models import Message
from emailconfig.services import outbox
from emailconfig.services.outbox import ApiError

router = Router(tags=["messages"])
BODIES = ("raw", "recipients", "original_recipients")


@router.get(
    "",
    response=answers.reading(list[MessageSummary]),
    url_name="admin_messages",
    operation_id="admin_list_messages",
    summary="Messages of the token's stages, newest first",
)
def list_messages(request: HttpRequest, filters: Query[MessageFilters]) -> list[dict[str, Any]]:
    stages = access(request).stages()
    chosen = {stage.slug: stage.pk for stage in stages}.get(filters.stage, filters.stage)
    form = OutboxFilter(
        {"app": filters.app, "stage": chosen, "status": filters.status, "q": filters.q},
        stages=stages,
    )
    if not form.is_valid():
        raise form_refusal(form)
    found_messages = form.filter(
        access(request).messages().select_related("app", "stage").defer(*BODIES)
    ).order_by(form.ordering())
    page = found_messages[filters.offset : filters.offset + filters.limit]
    return [
        {
            "id": m.pk,
            "status": m.status,
            "app": m.app.slug,
            "stage": m.stage.slug,
            "subject": m.subject,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
            "last_error": m.last_error,
        }
        for m in page
    ]


def _seen(request: HttpRequest, message_id: UUID) -> Message:
    messages = access(request).messages().select_related("app", "stage").defer("raw")
    return found(messages.prefetch_related("attempts"), "message", pk=message_id)


@router.get(
    "/{message_id}",
    response=answers.reading(MessageOut, found=True),
    url_name="admin_message",
    operation_id="admin_get_message",
    summary="A message's status and attempts",
)
def get_message(request: HttpRequest, message_id: UUID) -> dict[str, Any]:
    return message_status(_seen(request, message_id))


@router.post(
    "/{message_id}/retry",
    response=answers.writing(MessageOut, found=True, conflict=True),
    operation_id="admin_retry_message",
    summary="Queue a failed, cancelled or deferred message again",
)
def retry_message(request: HttpRequest, message_id: UUID) -> dict[str, Any]:
    message = _seen(request, message_id)
    allow(request, access(request).edits(message.stage))
    if not outbox.retry(message, by=actor(request)):
        raise ApiError(409, "not_retryable", outbox.NOT_RETRYABLE)
    return message_status(_seen(request, message_id))


@router.post(
    "/{message_id}/cancel",
    response=answers.writing(MessageOut, found=True, conflict=True),
    operation_id="admin_cancel_message",
    summary="Cancel a message that waits",
)
def cancel_message(request: HttpRequest, message_id: UUID) -> dict[str, Any]:
    message = _seen(request, message_id)
    allow(request, access(request).edits(message.stage))
    if not outbox.cancel(message, by=actor(request)):
        raise ApiError(409, "not_cancellable", outbox.NOT_CANCELLABLE)
    return message_status(_seen(request, message_id))
