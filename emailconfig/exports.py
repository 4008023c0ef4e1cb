"""A configuration version written for somewhere else: Django's `MAILERS` setting (a Python
snippet or JSON) and CodeStream On-Prem's `emailDeliveryService` block.

Secrets are never written: each becomes a reference to an environment variable, named after
the configuration, that the reader sets where the setting is used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from emailconfig.codestream import BLOCK, NODEMAILER, SENDGRID, SENDGRID_API
from emailconfig.engines.sendgrid import DEFAULT_ENDPOINT, SendGridEngine
from emailconfig.engines.smtp import SMTPEngine
from emailconfig.engines.smtp.options import Security, SignIn, SMTPServer
from emailconfig.models import ConfigurationVersion, RecipientsMode
from emailconfig.presets import PRESETS

DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
SENDGRID_RELAY = next(p for p in PRESETS if p.key == "sendgrid_smtp")
SENDGRID_RELAY_USERNAME = "apikey"  # SendGrid's relay takes this word and the API key


@dataclass
class Export:
    document: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)  # environment variable -> what
    notes: list[str] = field(default_factory=list)


class EnvironmentReference(str):
    """Where a secret goes in the output: the name of the environment variable holding it."""

    __slots__ = ()


def variable_name(configuration_name: str, what: str) -> str:
    """QA mail, password -> QA_MAIL_PASSWORD: one variable per configuration and secret.

    A shell takes no variable name starting with a digit: 2025 relay -> STAGEMAIL_2025_RELAY_...
    """
    stem = re.sub(r"[^A-Z0-9]+", "_", configuration_name.upper()).strip("_")
    if not stem or stem[0].isdigit():
        stem = f"STAGEMAIL_{stem}".rstrip("_")
    return f"{stem}_{what}"


def _not_exportable(version: ConfigurationVersion, where: str) -> Export | None:
    """An engine other than SMTP and SendGrid has no counterpart `where`: said, not guessed."""
    if version.engine in (SMTPEngine.key, SendGridEngine.key):
        return None
    return Export(
        {}, notes=[f"The {version.get_engine_display()} engine has no counterpart in {where}."]
    )


def django_mailers(version: ConfigurationVersion) -> Export:
    """`MAILERS` with a "default" alias, using only options Django's SMTP backend takes."""
    if (nothing := _not_exportable(version, "Django's MAILERS")) is not None:
        return nothing
    notes = []
    if version.engine == SendGridEngine.key:
        host, port, security = SENDGRID_RELAY.host, SENDGRID_RELAY.port, SENDGRID_RELAY.security
        username, secret = SENDGRID_RELAY_USERNAME, ("API_KEY", "the SendGrid API key")
        notes.append(
            "Django has no SendGrid API backend, so this uses SendGrid's SMTP relay with the "
            "same API key (username apikey)."
        )
    else:
        server = SMTPServer.of(version.options)
        host, port, security = server.host, server.port, server.security
        needs_auth = server.requires_auth and _signs_in_with_password(server, notes)
        username = server.username if needs_auth else ""
        secret = ("PASSWORD", "the SMTP password") if needs_auth else None
        if version.trusted_ca:
            notes.append(
                "The trusted CA certificates are not part of Django's options: add them to "
                "the system's trust store (or SSL_CERT_FILE) where the app runs."
            )
    options: dict[str, Any] = {"host": host, "port": port}
    export = Export({"default": {"BACKEND": DJANGO_SMTP_BACKEND, "OPTIONS": options}}, {}, notes)
    if username:
        options["username"] = username
    if secret:
        name = variable_name(version.name, secret[0])
        options["password"] = EnvironmentReference(name)
        export.secrets[name] = secret[1]
    if security == Security.STARTTLS:
        options["use_tls"] = True
    elif security == Security.TLS:
        options["use_ssl"] = True
    options["timeout"] = version.send_timeout
    _note_stagemail_only(version, export)
    return export


def _signs_in_with_password(server: SMTPServer, notes: list[str]) -> bool:
    if server.sign_in == SignIn.PASSWORD:
        return True
    notes.append(
        "This configuration signs in with OAuth2, which the exported settings cannot: send "
        "through Stagemail's SMTP submission (run_smtp_ingress) instead, or add the "
        "credentials by hand."
    )
    return False


def _note_stagemail_only(version: ConfigurationVersion, export: Export) -> None:
    if version.recipients_mode == RecipientsMode.TEST_LIST:
        export.notes.append(
            "The test list is Stagemail's own: mail sent with this setting goes to the real "
            "recipients."
        )
    if version.subject_prefix:
        export.notes.append(f"The subject prefix {version.subject_prefix!r} is Stagemail's own.")
    export.notes.append(
        f"Set DEFAULT_FROM_EMAIL = {version.from_email!r} for the same sender."
        if not version.from_name
        else f"Set DEFAULT_FROM_EMAIL = {f'{version.from_name} <{version.from_email}>'!r} "
        "for the same sender."
    )


def codestream_block(version: ConfigurationVersion) -> Export:
    """The `emailDeliveryService` and `email` blocks of codestream-services-config.json."""
    if (nothing := _not_exportable(version, "CodeStream's configuration")) is not None:
        return nothing
    export = Export({})
    if version.engine == SendGridEngine.key:
        name = variable_name(version.name, "API_KEY")
        export.secrets[name] = "the SendGrid API key"
        url = version.options.get("endpoint", DEFAULT_ENDPOINT)
        section = {
            "apiKey": EnvironmentReference(name),
            "url": url.removeprefix(SENDGRID_API) if url.startswith(SENDGRID_API) else url,
        }
        export.document[BLOCK] = {SENDGRID: section}
    else:
        server = SMTPServer.of(version.options)
        section = {
            "host": server.host,
            "port": server.port,
            "secure": server.security == Security.TLS,
        }
        if server.security == Security.NONE:
            export.notes.append("NodeMailer upgrades to STARTTLS when the server offers it.")
        if server.requires_auth and _signs_in_with_password(server, export.notes):
            name = variable_name(version.name, "PASSWORD")
            export.secrets[name] = "the SMTP password"
            section |= {"username": server.username, "password": EnvironmentReference(name)}
        export.document[BLOCK] = {NODEMAILER: section}
    email: dict[str, Any] = {"senderEmail": version.from_email}
    if version.recipients_mode == RecipientsMode.TEST_LIST and version.test_recipients:
        email["emailTo"] = version.test_recipients[0]["email"]
        if len(version.test_recipients) > 1:
            export.notes.append("CodeStream diverts to one address: the first of the test list.")
    export.document["email"] = email
    return export


# Writing them out ----------------------------------------------------------------------


def as_json(export: Export) -> str:
    """JSON, each secret as "${VARIABLE}", the way CodeStream's own files refer to them."""

    def placeholders(value: Any) -> Any:
        if isinstance(value, EnvironmentReference):
            return f"${{{value}}}"
        if isinstance(value, dict):
            return {key: placeholders(item) for key, item in value.items()}
        return value

    return json.dumps(placeholders(export.document), indent=2) + "\n"


def as_python(export: Export, *, setting: str = "MAILERS") -> str:
    """A settings.py snippet; each secret read from the environment when settings load."""
    lines = [f"# {note}" for note in export.notes]
    lines += ["import os", "", f"{setting} = {_python(export.document, 0)}"]
    return "\n".join(lines) + "\n"


def _python(value: Any, depth: int) -> str:
    if isinstance(value, EnvironmentReference):
        return f"os.environ[{str(value)!r}]"
    if isinstance(value, dict):
        inner = "    " * (depth + 1)
        items = "".join(
            f"{inner}{key!r}: {_python(item, depth + 1)},\n" for key, item in value.items()
        )
        return "{\n" + items + "    " * depth + "}"
    return repr(value)
