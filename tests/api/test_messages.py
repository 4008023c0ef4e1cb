"""POST and GET /api/v1/messages: accept, validate, authenticate, limit."""

import base64
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from emailconfig import mime
from emailconfig.composer import HEADER_NAME_PATTERN, MAX_RECIPIENTS
from emailconfig.models import EmailTemplate, Message, MessageStatus
from emailconfig.services import tokens
from tests import factories
from tests.api.conftest import ApiClient, message_body
from tests.template_bombs import MEMORY_BOMBS, REFUSALS

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def test_a_message_is_stored_before_the_202(api, qa_world):
    response = api.post(URL, message_body())

    assert response.status_code == 202, response.json()
    answer = response.json()
    message = Message.objects.get(pk=answer["id"])
    assert answer["status"] == "queued"
    assert answer["message_id"] == message.message_id
    assert answer["status_url"].endswith(f"/api/v1/messages/{message.pk}")
    assert message.status == MessageStatus.QUEUED
    assert message.version == qa_world["config"].latest_version()
    assert message.final_recipients == ["qa@example.com"]
    assert message.original_recipients == "To: ada@example.com, grace@example.com"
    assert message.recipients["to"][1] == {"email": "grace@example.com", "name": "Grace Hopper"}


def test_the_status_shows_attempts_and_final_recipients(api):
    message_id = api.post(URL, message_body()).json()["id"]
    answer = api.get(f"{URL}/{message_id}").json()
    assert answer["status"] == "queued"
    assert answer["final_recipients"] == ["qa@example.com"]
    assert answer["attempts"] == []
    assert answer["app"] == "billing" and answer["stage"] == "qa"
    assert (answer["refused"], answer["remaining_recipients"]) == ({}, None)


def test_the_status_shows_recipients_to_be_tried_again(api):
    message_id = api.post(URL, message_body()).json()["id"]
    Message.objects.filter(pk=message_id).update(
        status=MessageStatus.DEFERRED,
        refused={"qa@example.com": "452 4.2.2 Mailbox full"},
        remaining_recipients=["qa@example.com"],
    )
    answer = api.get(f"{URL}/{message_id}").json()
    assert answer["refused"] == {"qa@example.com": "452 4.2.2 Mailbox full"}
    assert answer["remaining_recipients"] == ["qa@example.com"]


def test_a_repeated_idempotency_key_returns_the_original_message(api):
    first = api.post(URL, message_body(idempotency_key="invoice-7"))
    again = api.post(URL, message_body(idempotency_key="invoice-7"))
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


def test_an_idempotency_key_reused_for_another_message_is_a_conflict(api):
    # Answering with the first message would silently drop the second one.
    api.post(URL, message_body(idempotency_key="invoice-7"))
    other = api.post(URL, message_body(idempotency_key="invoice-7", subject="Changed"))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert Message.objects.count() == 1


def test_a_template_is_rendered_with_the_context(api):
    EmailTemplate.objects.create(
        key="reset", name="Reset", subject="Reset for {{ user }}", text_body="Hi {{ user }}"
    )
    body = {"to": ["ada@example.com"], "template": "reset", "context": {"user": "Ada"}}
    message = Message.objects.get(pk=api.post(URL, body).json()["id"])
    assert (message.subject, mime.read(bytes(message.raw)).text, message.template_key) == (
        "Reset for Ada",
        "Hi Ada\n",
        "reset",
    )


@pytest.mark.parametrize("bomb", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_a_template_that_is_a_memory_bomb_is_refused(api, bomb):
    EmailTemplate.objects.create(key="bomb", name="Bomb", subject="Hi", text_body=bomb)
    response = api.post(URL, {"to": ["ada@example.com"], "template": "bomb", "context": {}})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "template_error"
    [error] = response.json()["error"]["fields"]["context"]
    assert error.removeprefix("Text body: ") in REFUSALS
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"to": []}, "to", "at least one recipient"),
        ({"to": ["not-an-address"]}, "to", "not a valid address"),
        ({"subject": "Hi\r\nBcc: victim@example.com"}, "subject", "line breaks"),
        ({"to": [{"email": "a@example.com", "name": "A\nBcc: x@y.z"}]}, "to", "line breaks"),
        ({"subject": None}, "subject", "A subject is required"),
        ({"text": None, "html": None}, "text", "text body"),
        ({"headers": {"Bcc": "x@example.com"}}, "headers", "is not allowed"),
        ({"headers": {"X-Stagemail-Original-Recipients": "x"}}, "headers", "is not allowed"),
        ({"headers": {"X-Ok": "a\r\nb"}}, "headers", "line breaks"),
        ({"headers": {"X-Ok\n": "b"}}, "headers", "is not allowed"),
        ({"text": "a\u0000b"}, "text", "NUL"),
        ({"idempotency_key": "k\u0000"}, "idempotency_key", "control characters"),
        (
            {"template": "a\u0000", "subject": None, "text": None, "html": None},
            "template",
            "control characters",
        ),
        (
            {"attachments": [{"filename": "a.txt", "content_type": "text/plain\n", "content": ""}]},
            "attachments",
            "not a valid content type",
        ),
        ({"to": "ada@example.com"}, "to", "list"),
        ({"to": ["l" * 65 + "@example.com"]}, "to", "RFC 5321 allows at most 64"),
        ({"cc": ["kim@☃.net"]}, "cc", "IDNA 2008"),
        ({"reply_to": {"email": "kim@i❤.ws", "name": "K"}}, "reply_to", "IDNA 2008"),
        (
            {"attachments": [{"filename": "a.txt", "content": "***"}]},
            "attachments[0].content",
            "base64",
        ),
    ],
)
def test_invalid_requests_get_a_400_naming_the_field(api, body, field, text):
    response = api.post(URL, message_body(**body))
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert text in " ".join(error["fields"][field]), error
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": ["ada@example.com", {"email": "b@example.com", "name": 5}]}, "to[1].name"),
        ({"to": [{"name": "Ada"}]}, "to[0].email"),
        ({"cc": ["x" * 300]}, "cc[0]"),
        ({"reply_to": {"email": 5}}, "reply_to.email"),
        ({"headers": {"X-Note": 5}}, "headers.X-Note"),
        (
            {"attachments": [{"filename": "a.txt", "content": ""}, {"filename": "b.txt"}]},
            "attachments[1].content",
        ),
        ({"attachments": [{"filename": "a.txt", "content": "***"}]}, "attachments[0].content"),
        ({"to": "ada@example.com"}, "to"),
    ],
)
def test_error_fields_are_the_requests_own_paths(api, body, field):
    """Never the validator's internals, such as `to.0.function-wrap[...].name`."""
    response = api.post(URL, message_body(**body))
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_a_template_no_one_has_is_a_422(api):
    body = {"to": ["ada@example.com"], "template": "nope", "context": {}}
    response = api.post(URL, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_template"
    assert error["fields"] == {"template": ["No template has the key “nope”."]}
    assert not Message.objects.exists()


def test_a_context_the_template_cannot_render_with_is_a_422(api):
    EmailTemplate.objects.create(key="reset", name="Reset", subject="Reset", text_body="{{ user }}")
    response = api.post(URL, {"to": ["ada@example.com"], "template": "reset", "context": {}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "template_error"
    assert "user" in error["fields"]["context"][0]


def test_a_value_of_the_wrong_kind_for_a_filter_is_a_422_not_a_crash(api):
    EmailTemplate.objects.create(
        key="wrap", name="Wrap", subject="Total", text_body="{{ amount|wordwrap }}"
    )
    body = {"to": ["ada@example.com"], "template": "wrap", "context": {"amount": 5}}
    response = api.post(URL, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "template_error"
    assert "AttributeError" in response.json()["error"]["fields"]["context"][0]


def test_attachments_are_stored_in_the_composed_message_and_limited(api, settings):
    content = base64.b64encode(b"%PDF binary \x00").decode()
    body = message_body(
        attachments=[{"filename": "i.pdf", "content_type": "application/pdf", "content": content}]
    )
    assert api.post(URL, body).status_code == 202
    [attachment] = mime.read(bytes(Message.objects.get().raw)).attachments
    assert attachment == mime.AttachmentData("i.pdf", "application/pdf", b"%PDF binary \x00")

    settings.STAGEMAIL_MAX_MESSAGE_BYTES = 100
    big = base64.b64encode(b"x" * 200).decode()
    response = api.post(URL, message_body(attachments=[{"filename": "b.bin", "content": big}]))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_the_size_limit_counts_bytes_not_characters(api, settings):
    settings.STAGEMAIL_MAX_MESSAGE_BYTES = 1000
    response = api.post(URL, message_body(text="€" * 400, html=None))  # 1,200 bytes in UTF-8
    assert response.status_code == 413
    assert not Message.objects.exists()


def test_a_body_over_the_upload_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(URL, message_body(text="x" * 5000))
    assert response.status_code == 413


@pytest.mark.parametrize("token", [None, "smk_wrong", "Basic abc"])
def test_a_missing_or_wrong_token_is_a_401(qa_world, token):
    response = ApiClient(token).post(URL, message_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_a_401(api, qa_world):
    tokens.revoke(qa_world["credential"], by=None)
    assert api.post(URL, message_body()).status_code == 401


def test_a_rotated_token_works_during_its_grace_then_stops(api, qa_world, settings):
    from datetime import timedelta

    from django.utils import timezone

    _, new_token = tokens.rotate(
        qa_world["app"], qa_world["stage"], grace=timedelta(hours=1), by=None
    )
    assert api.post(URL, message_body()).status_code == 202
    assert ApiClient(new_token).post(URL, message_body()).status_code == 202
    qa_world["credential"].refresh_from_db()
    qa_world["credential"].__class__.objects.filter(pk=qa_world["credential"].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api.post(URL, message_body()).status_code == 401
    assert ApiClient(new_token).post(URL, message_body()).status_code == 202


def test_no_applied_configuration_is_a_409(db):
    app = factories.app("Shop")
    _, token = tokens.issue(app, factories.stage("production"), by=None)
    response = ApiClient(token).post(URL, message_body())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_configuration"


def test_an_app_sees_only_its_own_messages(api, qa_world):
    message_id = api.post(URL, message_body()).json()["id"]
    other_app = factories.app("Shop")
    from emailconfig.services import configurations

    configurations.apply_version(
        other_app, qa_world["stage"], qa_world["config"].latest_version(), by=None
    )
    _, other_token = tokens.issue(other_app, qa_world["stage"], by=None)
    assert ApiClient(other_token).get(f"{URL}/{message_id}").status_code == 404
    assert api.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_rate_limit_answers_429_with_retry_after(api, qa_world):
    from emailconfig.models import AppliedConfiguration

    AppliedConfiguration.objects.update(rate_limit_per_minute=2)
    codes = [api.post(URL, message_body()).status_code for _ in range(3)]
    assert codes[:2] == [202, 202]
    response = api.post(URL, message_body())
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert Message.objects.count() == 2
    assert response.json()["error"]["message"] == (
        "More than 2 messages a minute for Billing on QA: this app's own limit on this stage, "
        "set on the app's page in the portal."
    )


def test_the_429_names_the_default_limit_and_where_it_is_set(api, qa_world, settings):
    settings.STAGEMAIL_API_RATE_LIMIT = 1
    assert api.post(URL, message_body()).status_code == 202
    response = api.post(URL, message_body())
    assert response.status_code == 429
    assert response.json()["error"]["message"] == (
        "More than 1 message a minute for Billing on QA: the default limit "
        "(STAGEMAIL_API_RATE_LIMIT); an editor can set this app's own limit on its page "
        "in the portal."
    )


def test_over_the_limit_nothing_is_written(api, qa_world):
    from emailconfig.models import AppliedConfiguration, RateWindow

    AppliedConfiguration.objects.update(rate_limit_per_minute=1)
    this_minute = RateWindow.start_of(timezone.now())
    for minute in (this_minute, this_minute + timedelta(minutes=1)):  # a minute may turn
        RateWindow.objects.create(
            app=qa_world["app"], stage=qa_world["stage"], window_start=minute, count=1
        )
    attachment = {"filename": "big.bin", "content": base64.b64encode(b"x" * 100_000).decode()}
    with CaptureQueriesContext(connection) as queries:
        response = api.post(URL, message_body(attachments=[attachment]))
    assert response.status_code == 429
    assert not [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert not Message.objects.exists()


def test_earlier_minutes_of_the_rate_limit_are_removed(api, qa_world):
    from emailconfig.models import RateWindow

    an_hour_ago = RateWindow.start_of(timezone.now() - timedelta(hours=1))
    RateWindow.objects.create(
        app=qa_world["app"], stage=qa_world["stage"], window_start=an_hour_ago, count=5
    )
    assert api.post(URL, message_body()).status_code == 202
    [window] = RateWindow.objects.all()
    assert window.window_start > an_hour_ago
    assert window.count == 1


def test_the_openapi_document_describes_the_endpoints(client):
    document = client.get("/api/v1/openapi.json").json()
    apps_paths = {path for path in document["paths"] if not path.startswith("/api/v1/admin/")}
    assert apps_paths == {  # the admin API's: tests/api/admin/test_document.py
        "/api/v1/messages",
        "/api/v1/messages/batch",
        "/api/v1/messages/{message_id}",
    }
    post = document["paths"]["/api/v1/messages"]["post"]
    assert set(post["responses"]) == {"202", "400", "401", "409", "413", "422", "429", "503"}
    assert post["responses"]["202"]["links"]["GetMessage"] == {
        "operationId": "get_message",
        "parameters": {"message_id": "$response.body#/id"},
        "description": "The message's status and attempts.",
    }
    assert post["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    get = document["paths"]["/api/v1/messages/{message_id}"]["get"]
    assert get["operationId"] == "get_message"
    assert set(get["responses"]) == {"200", "400", "401", "404", "503"}
    delete = document["paths"]["/api/v1/messages/{message_id}"]["delete"]
    assert set(delete["responses"]) == {"200", "400", "401", "404", "409", "503"}
    batch = document["paths"]["/api/v1/messages/batch"]["post"]
    assert set(batch["responses"]) == {"200", "400", "401", "409", "413", "429", "503"}
    messages = document["components"]["schemas"]["BatchIn"]["properties"]["messages"]
    assert messages["items"] == {"$ref": "#/components/schemas/MessageIn"}
    assert (messages["minItems"], messages["maxItems"]) == (1, 100)
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


def test_the_document_states_the_rules_the_api_enforces(client, settings):
    settings.STAGEMAIL_MAX_ATTACHMENTS = 3
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    message = schemas["MessageIn"]
    recipients, content = message["allOf"]
    assert {"required": ["bcc"], "properties": {"bcc": {"type": "array", "minItems": 1}}} in (
        recipients["anyOf"]
    )
    assert [variant["required"] for variant in content["oneOf"]] == [["subject"], ["template"]]
    assert message["properties"]["to"]["maxItems"] == MAX_RECIPIENTS
    address = message["properties"]["to"]["items"]["oneOf"][0]
    assert address["maxLength"] == 254
    assert re.search(address["pattern"], "ada@example.com")
    assert not re.search(address["pattern"], f"{'a' * 65}@example.com")
    headers = message["properties"]["headers"]
    assert headers["propertyNames"]["pattern"] == HEADER_NAME_PATTERN
    assert message["properties"]["attachments"]["maxItems"] == 3
    content = schemas["AttachmentIn"]["properties"]["content"]
    assert content["contentEncoding"] == "base64"
    assert re.search(content["pattern"], base64.b64encode(b"%PDF").decode())
    assert not re.search(content["pattern"], "JVBERg")  # unpadded


def test_refused_requests_never_reach_the_wire(api, qa_world):
    from emailconfig.services import configurations
    from emailconfig.worker import Worker
    from tests.servers import smtp_server

    with smtp_server() as sink:
        on_the_sink = factories.edit(qa_world["config"], smtp_port=sink.port)
        configurations.apply_version(qa_world["app"], qa_world["stage"], on_the_sink, by=None)
        assert api.post(URL, message_body(subject="Control")).status_code == 202
        for body in (
            {"subject": "Hi\r\nBcc: victim@example.com"},
            {"headers": {"Bcc": "victim@example.com"}},
            {"headers": {"X-Note": "a\nBcc: victim@example.com"}},
            {"to": [{"email": "a@example.com", "name": "A\r\nBcc: v@example.com"}]},
        ):
            assert api.post(URL, message_body(**body)).status_code == 400
        Worker().run_once()
    assert [r.message["Subject"] for r in sink.handler.received] == ["Control"]
    assert b"victim" not in sink.handler.received[0].content
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "text", ["=?utf-8?q?Hi=0D=0ABcc:_v@example.com?=", "Bank =?utf-8?b?PHN1cHBvcnRAYmFuaz4=?="]
)
def test_an_encoded_word_lookalike_is_stored_as_the_literal_text(api, text):
    EmailTemplate.objects.create(
        key="lookalike", name="L", subject=text + " {{ n }}", text_body="x"
    )
    bodies = [
        message_body(subject=text, to=[{"email": "a@example.com", "name": text}]),
        message_body(template="lookalike", context={"n": 1}, subject=None, text=None, html=None),
    ]
    for body, subject in zip(bodies, [text, f"{text} 1"], strict=True):
        message = Message.objects.get(pk=api.post(URL, body).json()["id"])
        parsed = mime.message_from_bytes(bytes(message.raw), policy=mime.policy.default)
        assert parsed["Subject"] == subject
