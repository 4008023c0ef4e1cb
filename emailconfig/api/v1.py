"""POST /api/v1/messages and /api/v1/messages/batch, GET and DELETE /api/v1/messages/{id};
OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ValidationError as PydanticValidationError

from emailconfig.api.paths import field_path
from emailconfig.api.schemas import (
    BatchIn,
    BatchOut,
    ErrorOut,
    MessageAccepted,
    MessageIn,
    MessageOut,
    message_status,
)
from emailconfig.audit import Actor
from emailconfig.composer import AttachmentData
from emailconfig.delivery import Address
from emailconfig.models import ApiToken, Message, MessageStatus
from emailconfig.services import outbox, tokens


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return tokens.authenticate(token)


api = NinjaAPI(
    title="Stagemail API",
    version="1",
    description="Submit email for an app on a stage; Stagemail composes and delivers it "
    "through the configuration applied there. Authenticate with `Authorization: Bearer <token>`.",
    urls_namespace="api-v1",
    auth=BearerToken(),
    docs_url=None,  # the interactive docs load from a CDN; the JSON document is enough
)

SUBMIT_ERRORS = (400, 401, 409, 413, 422, 429, 503)
BATCH_ERRORS = (400, 401, 409, 413, 429, 503)
STATUS_ERRORS = (400, 401, 404, 503)
CANCEL_ERRORS = (400, 401, 404, 409, 503)
RETRY_UNAVAILABLE_AFTER = 5  # seconds an app waits before asking again when the database is away

log = logging.getLogger("stagemail.api")


def error_response(request: HttpRequest, error: outbox.ApiError) -> HttpResponse:
    body = {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
    response = api.create_response(request, body, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


PATHS = (
    "POST /api/v1/messages, POST /api/v1/messages/batch, GET and DELETE /api/v1/messages/{id}, "
    "and the admin API under /api/v1/admin/"
)


@csrf_exempt  # like every API view: a POST to a wrong path gets the 404, not the CSRF page
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /api/v1/: the API's own 404, never the portal's HTML page."""
    error = outbox.ApiError(404, "not_found", f"No such API path; the API has {PATHS}.")
    return error_response(request, error)


def answers_in_json(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap one of the API's URL views so that a method it does not take, or its 404 (the
    root, where the docs would be), is answered in JSON."""

    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            message = f"{request.method} is not allowed here; use {allowed} ({PATHS})."
            error = outbox.ApiError(405, "method_not_allowed", message, headers={"Allow": allowed})
            return error_response(request, error)
        return response

    answered.csrf_exempt = True  # type: ignore[attr-defined]  (bearer tokens, no cookies)
    return answered


@api.exception_handler(outbox.ApiError)
def _api_error(request: HttpRequest, exc: outbox.ApiError) -> HttpResponse:
    return error_response(request, exc)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    name = request.resolver_match.url_name if request.resolver_match else ""
    if name and name.startswith("admin_"):
        return error_response(request, _invalid(None, exc.errors))
    return error_response(request, _invalid(BatchIn if name == "batch" else MessageIn, exc.errors))


def _invalid(body: type[Schema] | None, errors: Iterable[Any], prefix: str = "") -> outbox.ApiError:
    """`body`: the schema the paths follow; None (the admin API) names the location as is."""
    fields: dict[str, list[str]] = {}
    for item in errors:
        location = item.get("loc", ())
        path = field_path(body, location) if body else _plain_path(location)
        fields.setdefault(prefix + path, []).append(item.get("msg", "invalid"))
    return outbox.ApiError(400, "validation_error", "The request is not valid.", fields)


def _plain_path(location: Sequence[str | int]) -> str:
    where, *rest = location or ("body",)
    if where == "body":
        rest = rest[1:]  # django-ninja's wrapper of the body: its parameter's name
    return ".".join(str(part) for part in rest) or str(where)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    error = outbox.ApiError(
        401, "unauthorized", "Send a valid, unrevoked token as `Authorization: Bearer <token>`."
    )
    response = error_response(request, error)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, outbox.ApiError(413, "too_large", "The request is too large."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = "bad_request" if exc.status_code == 400 else "error"  # e.g. a body that is not JSON
    return error_response(request, outbox.ApiError(exc.status_code, code, str(exc)))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A fault of Stagemail's own: logged with its traceback, answered in JSON without it."""
    log.error("unexpected error answering %s %s", request.method, request.path, exc_info=exc)
    error = outbox.ApiError(
        500,
        "internal_error",
        "Stagemail could not handle this request; the error is in its log. Send the same "
        "idempotency_key again: a repeat never makes a second message.",
    )
    return error_response(request, error)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_away(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("the database cannot be reached: %s", type(exc).__name__)
    error = outbox.ApiError(
        503,
        "unavailable",
        "Stagemail's database cannot be reached right now; try again shortly. Send the "
        "same idempotency_key again: a repeat never makes a second message.",
        headers={"Retry-After": str(RETRY_UNAVAILABLE_AFTER)},
    )
    return error_response(request, error)


def _address(value: Any) -> Address:
    if isinstance(value, str):
        return Address(value.strip())
    return Address(value.email.strip(), value.name)


def _attachment(index: int, item: Any) -> AttachmentData:
    try:
        content = base64.b64decode(item.content, validate=True)
    except (binascii.Error, ValueError):
        raise outbox.invalid_field(f"attachments[{index}].content", "Not valid base64.") from None
    return AttachmentData(item.filename, item.content_type, content)


def _submission(payload: MessageIn) -> outbox.Submission:
    return outbox.Submission(
        to=tuple(map(_address, payload.to)),
        cc=tuple(map(_address, payload.cc)),
        bcc=tuple(map(_address, payload.bcc)),
        subject=payload.subject,
        text=payload.text,
        html=payload.html,
        template=payload.template,
        context=payload.context,
        reply_to=None if payload.reply_to is None else _address(payload.reply_to),
        headers=payload.headers,
        idempotency_key=payload.idempotency_key,
        attachments=tuple(_attachment(i, a) for i, a in enumerate(payload.attachments)),
        send_at=payload.send_at,
    )


def _header(description: str, *, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


_RETRY_AFTER = {"Retry-After": _header("Seconds to wait before asking again.", required=True)}
# What each answer means, and the headers that come with it, in the OpenAPI document.
ANSWERS: dict[int, dict[str, Any]] = {
    400: {"description": "The request breaks a rule of this document; `fields` says where."},
    401: {
        "description": "No valid, unrevoked token.",
        "headers": {"WWW-Authenticate": _header("Bearer", required=True)},
    },
    404: {"description": "No such message for this app and stage."},
    409: {
        "description": "No configuration is applied to the app on the stage, or the "
        "idempotency_key came with a different message before."
    },
    413: {"description": "The message is larger than the configured limit."},
    422: {
        "description": "Well formed, but the template does not exist or does not render "
        "with the context."
    },
    429: {"description": "Over the app's rate limit on this stage.", "headers": _RETRY_AFTER},
    503: {"description": "The database cannot be reached; try again.", "headers": _RETRY_AFTER},
}


@api.post(
    "/messages",
    response={202: MessageAccepted, **dict.fromkeys(SUBMIT_ERRORS, ErrorOut)},
    summary="Submit a message",
    operation_id="submit_message",
    openapi_extra={
        "responses": {
            202: {
                "description": "Accepted: stored, and queued for delivery.",
                "headers": {
                    "Idempotent-Replayed": _header(
                        "true when a repeated idempotency_key answers with the original message."
                    )
                },
                "links": {
                    "GetMessage": {
                        "operationId": "get_message",
                        "parameters": {"message_id": "$response.body#/id"},
                        "description": "The message's status and attempts.",
                    },
                    "CancelMessage": {
                        "operationId": "cancel_message",
                        "parameters": {"message_id": "$response.body#/id"},
                        "description": "Cancel the message while it waits.",
                    },
                },
            },
            **{code: ANSWERS[code] for code in SUBMIT_ERRORS},
        }
    },
)
def submit_message(request: HttpRequest, payload: MessageIn) -> HttpResponse:
    message, created = outbox.accept(request.auth, _submission(payload))
    body = MessageAccepted(**_accepted(message, _status_urls(request)))
    response = api.create_response(request, body.model_dump(mode="json"), status=202)
    if not created:
        response["Idempotent-Replayed"] = "true"  # the original message, not a new one
    return response


def _accepted(message: Message, status_url: Callable[[Message], str]) -> dict[str, Any]:
    return {
        "id": message.pk,
        "status": message.status,
        "message_id": message.message_id,
        "status_url": status_url(message),
        "send_at": message.send_at,
    }


def _status_urls(request: HttpRequest) -> Callable[[Message], str]:
    """Each message's status URL, resolved once for a request (a batch has up to 100)."""
    placeholder = UUID(int=0)
    url = request.build_absolute_uri(reverse("api-v1:get_message", args=[placeholder]))
    head, tail = url.split(str(placeholder))
    return lambda message: f"{head}{message.pk}{tail}"


@api.post(
    "/messages/batch",
    response={200: BatchOut, **dict.fromkeys(BATCH_ERRORS, ErrorOut)},
    url_name="batch",
    summary="Submit up to 100 messages at once",
    operation_id="submit_batch",
    openapi_extra={
        "responses": {
            200: {
                "description": "Every message validated on its own; those that passed are "
                "stored together, in one transaction. One result per message, in order."
            },
            400: {
                "description": "The request is not a batch of 1 to 100 messages; a message "
                "that breaks a rule is answered in its own result instead."
            },
            409: {"description": "No configuration is applied to the app on the stage."},
            413: {"description": "The request is larger than the upload limit."},
            429: {
                "description": "Over the rate limit when the batch is stored (another request "
                "took the rest of the minute meanwhile): nothing is stored.",
                "headers": _RETRY_AFTER,
            },
            **{code: ANSWERS[code] for code in (401, 503)},
        }
    },
)
def submit_batch(request: HttpRequest, payload: BatchIn) -> dict[str, Any]:
    outbox.check_batch_size(len(payload.messages))
    items = [_batch_item(raw) for raw in payload.messages]
    outcomes = outbox.accept_batch(request.auth, items)
    status_url = _status_urls(request)
    results = []
    for index, outcome in enumerate(outcomes):
        if outcome.error is not None:
            error = _in_batch(index, outcome.error)
            body = {"code": error.code, "message": error.message, "fields": error.fields}
            results.append({"status": error.status, "error": body})
        else:
            accepted = _accepted(outcome.message, status_url)
            results.append({"status": 202, "message": accepted, "replayed": not outcome.created})
    refused = sum(outcome.error is not None for outcome in outcomes)
    return {"accepted": len(outcomes) - refused, "refused": refused, "results": results}


def _batch_item(raw: Any) -> outbox.Submission | outbox.ApiError:
    """One message of a batch, checked as POST /api/v1/messages checks its body."""
    if not isinstance(raw, dict):  # a schema would read another value's attributes
        return outbox.invalid_field("body", "A message is a JSON object.")
    try:
        return _submission(MessageIn.model_validate(raw))
    except PydanticValidationError as exc:
        located = [{**e, "loc": ("body", "payload", *e["loc"])} for e in exc.errors()]
        return _invalid(MessageIn, located)
    except outbox.ApiError as error:
        return error


def _in_batch(index: int, error: outbox.ApiError) -> outbox.ApiError:
    """The error of one message, its fields named by their path in the batch."""
    where = f"messages[{index}]"
    fields = {
        where if name == "body" else f"{where}.{name}": messages
        for name, messages in error.fields.items()
    }
    return outbox.ApiError(error.status, error.code, error.message, fields)


def _own_message(credential: ApiToken, message_id: UUID) -> Message:
    message = (
        Message.objects.filter(pk=message_id, app=credential.app_id, stage=credential.stage_id)
        .defer("raw")
        .select_related("app", "stage")
        .prefetch_related("attempts")
        .first()
    )
    if message is None:
        raise outbox.ApiError(404, "not_found", "No such message for this app and stage.")
    return message


@api.get(
    "/messages/{message_id}",
    response={200: MessageOut, **dict.fromkeys(STATUS_ERRORS, ErrorOut)},
    url_name="get_message",
    summary="A message's status and attempts",
    operation_id="get_message",
    openapi_extra={
        "responses": {
            200: {"description": "The message."},
            **{code: ANSWERS[code] for code in STATUS_ERRORS},
        }
    },
)
def get_message(request: HttpRequest, message_id: UUID) -> dict[str, Any]:
    return message_status(_own_message(request.auth, message_id))


@api.delete(
    "/messages/{message_id}",
    response={200: MessageOut, **dict.fromkeys(CANCEL_ERRORS, ErrorOut)},
    summary="Cancel a message that has not been sent",
    operation_id="cancel_message",
    openapi_extra={
        "responses": {
            200: {
                "description": "Cancelled (now, or before): it will not be sent. The message "
                "stays on record with its status."
            },
            409: {"description": "Too late: the message is being sent, was sent, or failed."},
            **{code: ANSWERS[code] for code in (400, 401, 404, 503)},
        }
    },
)
def cancel_message(request: HttpRequest, message_id: UUID) -> dict[str, Any]:
    credential: ApiToken = request.auth
    message = _own_message(credential, message_id)
    if message.status != MessageStatus.CANCELLED and not outbox.cancel(
        message, by=Actor.token(credential, request)
    ):
        message.refresh_from_db(fields=["status"])
        if message.status != MessageStatus.CANCELLED:  # not by another request meanwhile
            raise outbox.ApiError(409, "not_cancellable", _too_late(message.status))
    message.status = MessageStatus.CANCELLED  # a cancel is answered with the status it made
    return message_status(message)


def _too_late(status: str) -> str:
    if status == MessageStatus.SENDING:
        return "The message is being sent right now; it cannot be stopped."
    return f"The message is {status} already; only a message still waiting can be cancelled."


# The admin API: its own bearer tokens, the same errors, in the same document.
from emailconfig.api.admin import router as admin_router  # noqa: E402

api.add_router("/admin/", admin_router)
