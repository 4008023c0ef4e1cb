"""SendGrid v3 delivery over one kept-alive HTTPS connection, payload built by `sendgrid`'s helper.

The official client opens a new connection and reloads the CA bundle for every
message; posting the same JSON over one pooled connection is about a hundred
times faster, so the engine keeps its connection for the whole batch.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from sendgrid.helpers.mail import (
    Attachment,
    Bcc,
    Cc,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    Personalization,
    ReplyTo,
    To,
)

from emailconfig import mime, outbound
from emailconfig.composer import WireMessage
from emailconfig.engines.base import (
    DeliveryError,
    DeliveryResult,
    Engine,
    MessageError,
    Step,
    ms_since,
    tls_context,
)
from emailconfig.engines.http_connection import (
    BadResponse,
    ClosedWithoutAnswer,
    HTTPConnection,
    NotSent,
    Response,
)
from emailconfig.engines.options import EngineOptions
from emailconfig.forms.secrets import SecretFormField
from emailconfig.models import Outcome
from emailconfig.validators import is_loopback

MAX_BODY = 64 * 1024  # an answer is an error message at most; more is not kept
MAX_ANSWER = 2000
_SENDABLE_KEY = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no spaces
UNREADABLE = "The stored message cannot be sent through SendGrid"


# Headers the v3 JSON carries in fields of its own, or that SendGrid writes itself.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "reply-to",
        "subject",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


def payload(message: WireMessage) -> dict:
    """The v3 mail/send JSON for a stored message, read from its bytes.

    SendGrid builds the MIME itself, so the JSON carries the same parts and headers
    (Message-ID included); recipients in the envelope but in no header are the Bcc.
    """
    read = mime.read(message.raw)
    senders = read.addresses("From")
    if len(senders) != 1:
        raise MessageError(
            f"{UNREADABLE}: it has {'no' if not senders else 'more than one'} From address."
        )
    [sender] = senders
    mail = Mail(
        from_email=From(sender.email, sender.name or None),
        subject=read.header("Subject"),
        plain_text_content=read.text or None,
        html_content=read.html or None,
    )
    personalization = Personalization()
    for address in read.addresses("To"):
        personalization.add_to(To(address.email, address.name or None))
    for address in read.addresses("Cc"):
        personalization.add_cc(Cc(address.email, address.name or None))
    for recipient in read.bcc(message.recipients):
        personalization.add_bcc(Bcc(recipient))
    mail.add_personalization(personalization)
    for reply_to in read.addresses("Reply-To"):
        mail.reply_to = ReplyTo(reply_to.email, reply_to.name or None)
    for item in read.attachments:
        mail.attachment = Attachment(
            FileContent(base64.b64encode(item.content).decode("ascii")),
            FileName(item.filename),
            FileType(item.content_type),
            Disposition("attachment"),
        )
    for name, value in read.headers:
        if name.lower() not in _OWN_HEADERS:
            mail.header = Header(name, value)
    return mail.get()


def _body(message: WireMessage) -> bytes:
    """The request's JSON; a message it cannot be built from fails alone, for good."""
    try:
        return json.dumps(payload(message)).encode()
    except MessageError:
        raise
    except Exception as exc:
        raise MessageError(f"{UNREADABLE} ({type(exc).__name__}: {exc}).") from None


def _retry_after(response: Response) -> float | None:
    value = response.getheader("Retry-After")
    if value is None:
        reset = response.getheader("X-RateLimit-Reset")
        return max(0.0, float(reset) - time.time()) if reset and reset.isdigit() else None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


DEFAULT_ENDPOINT = "https://api.sendgrid.com/v3/mail/send"


class WebURLField(forms.URLField):
    """An http(s) URL: the one check, so a bad URL is said once."""

    default_validators = [URLValidator(schemes=["https", "http"])]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(assume_scheme="https", **kwargs)


class SendGridOptions(EngineOptions):
    engine = "sendgrid"
    secret_destinations = {"api_key": ("endpoint",)}
    ignores = ("envelope_from",)  # SendGrid sets its own bounce address

    sendgrid_api_key = SecretFormField(label="SendGrid API key")
    sendgrid_endpoint = WebURLField(
        label="SendGrid endpoint URL", initial=DEFAULT_ENDPOINT, max_length=200
    )

    @classmethod
    def summary(cls, options: Mapping[str, Any]) -> dict[str, str]:
        return {"server": options.get("endpoint", DEFAULT_ENDPOINT), "sign_in": "API key"}

    def clean_sendgrid_endpoint(self) -> str:
        url = self.cleaned_data.get("sendgrid_endpoint", "")
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise ValidationError(
                "Use https: the API key would otherwise travel in clear text.", code="insecure"
            )
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.secret_after_save("api_key") and "sendgrid_api_key" not in self.errors:
            self.add_error("sendgrid_api_key", "Enter the SendGrid API key.")
        if "sendgrid_endpoint" not in self.errors:
            self._check_destination(data["sendgrid_endpoint"])
        return data

    def _check_destination(self, url: str) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            self.add_error("sendgrid_endpoint", "The port in this URL is not one from 1 to 65535.")
            return
        host = parts.hostname or ""
        try:  # one reason at a time
            outbound.check_sendgrid_host(host)
            outbound.check_port(port, outbound.HTTPS)
            outbound.check_host(host)
        except outbound.OutboundRefused as refused:
            self.add_error(
                "sendgrid_endpoint", ValidationError(refused.message, code="not_allowed")
            )

    @classmethod
    def destination_part(cls, option: str, value: Any) -> str:
        """The endpoint by its scheme and host: the key goes to whatever path there."""
        url = urlsplit(str(value or ""))
        return f"{url.scheme}://{url.netloc}".lower()


class SendGridEngine(Engine):
    key = "sendgrid"
    label = "SendGrid"
    Options = SendGridOptions

    _connection: HTTPConnection | None = None

    def _url(self, path: str | None = None) -> tuple[str, int | None, str, str]:
        parts = urlsplit(self.settings.options.get("endpoint", DEFAULT_ENDPOINT))
        return parts.scheme, parts.port, parts.hostname or "", path or parts.path or "/"

    def _open(self) -> HTTPConnection:
        if self._connection is None:
            scheme, port, host, _ = self._url()
            outbound.check_sendgrid_host(host)
            context = tls_context(self.settings.trusted_ca) if scheme == "https" else None
            self._connection = HTTPConnection(
                scheme, host, port, connect_timeout=self.settings.connect_timeout, context=context
            )
        return self._connection

    def destination(self) -> str:
        return str(self.settings.options.get("endpoint", DEFAULT_ENDPOINT))

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _redact(self, text: str) -> str:
        """Redacted before it is cut short, so no part of a key survives the cut."""
        return self.redact(text)[:MAX_ANSWER]

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, str, Response]:
        """One request and its whole answer within the send timeout.

        A request is sent again only when it certainly did not reach the server: a
        kept-alive connection the server has closed is replaced before writing, and
        a write that fails on a reused connection is tried once on a new one. Once the
        request is written, a failure is reported, never retried: the server may have
        acted on it.
        """
        key = self.settings.secrets.get("api_key")
        if key and not _SENDABLE_KEY.fullmatch(key.reveal()):
            # Checked before building the request, so no error can ever quote the key.
            raise DeliveryError(
                "The API key has characters a header cannot carry; enter it again.",
                permanent=True,
            )
        headers = {
            "Authorization": f"Bearer {key.reveal() if key else ''}",
            "Content-Type": "application/json",
            "User-Agent": "Stagemail",
        }
        for attempt in (1, 2):
            try:
                response = self._open().request(
                    method, path, headers, body, timeout=self.settings.send_timeout, keep=MAX_BODY
                )
            except outbound.OutboundRefused as exc:
                self.close()
                raise DeliveryError(exc.message, permanent=True, connection=True) from None
            except NotSent as exc:
                self.close()
                if exc.reused and attempt == 1:
                    continue  # the server closed the idle connection as we wrote; it saw nothing
                raise DeliveryError(
                    f"The server closed the connection: {exc.strerror}", connection=True
                ) from None
            except ClosedWithoutAnswer:
                self.close()
                raise DeliveryError(
                    "The server closed the connection without answering", connection=True
                ) from None
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise DeliveryError(
                    f"TLS certificate not accepted: {exc.verify_message}", connection=True
                ) from None
            except TimeoutError:
                self.close()
                raise DeliveryError("Timed out waiting for SendGrid", connection=True) from None
            except BadResponse as exc:
                self.close()
                raise DeliveryError(
                    f"The endpoint did not answer like an HTTP API ({exc})", connection=True
                ) from None
            except OSError as exc:
                self.close()
                raise DeliveryError(
                    f"Network error: {exc.strerror or exc}", connection=True
                ) from None
            text = self._redact(" ".join(response.body.decode("utf-8", "replace").split()))
            return response.status, text, replace(response, reason=self._redact(response.reason))
        raise AssertionError("unreachable")  # the loop either returns or raises

    def deliver(self, message: WireMessage) -> DeliveryResult:
        _, _, _, path = self._url()
        body = _body(message)
        status, text, response = self._request("POST", path, body)
        if 200 <= status < 300:
            sendgrid_id = response.getheader("X-Message-Id", "")
            answer = f"{status} {response.reason}" + (
                f" (X-Message-Id {sendgrid_id})" if sendgrid_id else ""
            )
            return DeliveryResult(outcome=Outcome.DELIVERED, answer=answer)
        answer = f"{status} {response.reason}: {text}" if text else f"{status} {response.reason}"
        raise DeliveryError(
            f"SendGrid answered {answer}",
            # A redirect is not followed (the endpoint URL needs fixing); of the 4xx, a timeout
            # and a rate limit are worth another try.
            permanent=300 <= status < 400 or (400 <= status < 500 and status not in (408, 429)),
            retry_after=_retry_after(response) if status == 429 or status >= 500 else None,
        )

    def probe(self) -> list[Step]:
        """Ask SendGrid which scopes the key has: 200 means the key is accepted."""
        started = time.monotonic()
        _, _, _, path = self._url()
        scopes_path = path.rsplit("/v3/", 1)[0] + "/v3/scopes"
        try:
            status, text, response = self._request("GET", scopes_path, None)
        except DeliveryError as error:
            return [
                Step(
                    "Reach SendGrid",
                    False,
                    ms_since(started),
                    error.message,
                    "Check the endpoint URL and that this machine may reach it.",
                )
            ]
        finally:
            self.close()
        reached = Step("Reach SendGrid", True, ms_since(started), f"{status} {response.reason}")
        if status == 200:
            try:
                scopes = json.loads(text).get("scopes", [])
            except (ValueError, AttributeError):
                scopes = []
            if "mail.send" in scopes:
                return [
                    reached,
                    Step("API key accepted, may send mail", True, 0, "200 OK, mail.send"),
                ]
            return [
                reached,
                Step(
                    "API key accepted, may send mail",
                    False,
                    0,
                    "200 OK, but without mail.send",
                    "The key is valid but may not send mail; give it the Mail Send permission.",
                ),
            ]
        hint = (
            "The API key is wrong or revoked; create a key with Mail Send access."
            if status in (401, 403)
            else ""
        )
        return [
            reached,
            Step(
                "API key accepted, may send mail",
                False,
                0,
                f"{status} {response.reason}: {text}",
                hint,
            ),
        ]
