"""CodeStream On-Prem's outbound email, as its config file writes it, read into the values of
a Stagemail configuration form.

Only the `emailDeliveryService` block (its `sendgrid` and `NodeMailer` sections) and the
`email` block's `senderEmail` and `emailTo` matter; the rest of the file is CodeStream's own.
The file is read as its authors write it: `//` and `/* */` comments and trailing commas.
Every problem names its path in the file; none stops the others from being found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import json5

from emailconfig.engines.sendgrid import SendGridEngine
from emailconfig.engines.smtp import SMTPEngine
from emailconfig.engines.smtp.options import Security
from emailconfig.models import RecipientsMode
from emailconfig.presets import PRESETS

BLOCK = "emailDeliveryService"
SENDGRID, NODEMAILER = "sendgrid", "NodeMailer"
KNOWN_KEYS = {
    SENDGRID: {"apiKey", "url", "disabled"},
    NODEMAILER: {"service", "host", "port", "secure", "username", "password", "disabled"},
    "email": {
        "emailTo",
        "senderEmail",
        "replyToDomain",
        "supportEmail",
        "suppressEmails",
        "notificationInterval",
    },
}
SENDGRID_API = "https://api.sendgrid.com"
SECRET_KEYS = {"apiKey", "password"}  # never echoed in a problem
# NodeMailer's well-known services that have a Stagemail preset.
SERVICES = {"gmail": next(p for p in PRESETS if p.key == "gmail")}


@dataclass
class Reading:
    """What the file says, as configuration form values, and what a person should know."""

    engine: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # the configuration form's fields
    shown: list[tuple[str, str]] = field(default_factory=list)  # (what, value), secrets masked
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The form field each value came from, by the path in the file, for the form's errors.
    paths: dict[str, str] = field(default_factory=dict)


def read(text: str) -> Reading:
    """Everything in the file that makes a configuration; `problems` when it cannot."""
    reading = Reading()
    try:
        document = json5.loads(text)
    except ValueError as error:
        reading.problems.append(
            f"The file is not JSON (comments and trailing commas are fine): {error}"
        )
        return reading
    except RecursionError:
        reading.problems.append("The file nests too deeply to be a CodeStream config file.")
        return reading
    if not isinstance(document, dict) or not isinstance(document.get(BLOCK), dict):
        reading.problems.append(f"{BLOCK}: missing; this file has no outbound email settings.")
        return reading
    block = document[BLOCK]
    email = document.get("email") if isinstance(document.get("email"), dict) else {}
    _list_unknown(reading, block, email)
    section = _chosen_section(reading, block)
    if section == SENDGRID:
        _read_sendgrid(reading, block[SENDGRID])
    elif section == NODEMAILER:
        _read_nodemailer(reading, block[NODEMAILER])
    _read_email(reading, email)
    return reading


def _list_unknown(reading: Reading, block: dict[str, Any], email: dict[str, Any]) -> None:
    for key in block:
        if key not in (SENDGRID, NODEMAILER, "selected"):
            reading.notes.append(f"{BLOCK}.{key}: not a section Stagemail knows; left out.")
    for name in (SENDGRID, NODEMAILER):
        if isinstance(block.get(name), dict):
            for key in sorted(set(block[name]) - KNOWN_KEYS[name]):
                reading.notes.append(
                    f"{BLOCK}.{name}.{key}: not a setting Stagemail knows; left out."
                )
    for key in sorted(set(email) - KNOWN_KEYS["email"]):
        reading.notes.append(f"email.{key}: not a setting Stagemail knows; left out.")


def _chosen_section(reading: Reading, block: dict[str, Any]) -> str | None:
    """SendGrid wins, as in CodeStream, unless `selected` names NodeMailer."""
    usable = []
    for name in (SENDGRID, NODEMAILER):
        section = block.get(name)
        if section is None:
            continue
        path = f"{BLOCK}.{name}"
        if not isinstance(section, dict):
            reading.problems.append(f"{path}: should be an object of settings.")
        elif "defaultEnv" in section:
            reading.problems.append(
                f"{path}: this is a profile template (it has defaultEnv), not the generated "
                "codestream-services-config.json; import the generated file."
            )
        elif section.get("disabled") is True:
            reading.notes.append(f"{path}: disabled, so skipped.")
        else:
            usable.append(name)
    selected = block.get("selected")
    if selected is not None and selected not in (SENDGRID, NODEMAILER):
        reading.problems.append(
            f'{BLOCK}.selected: "{selected}" is neither "{SENDGRID}" nor "{NODEMAILER}".'
        )
        return None
    if selected in usable:
        return selected
    if selected:
        reading.problems.append(
            f'{BLOCK}.selected: names "{selected}", which is missing or disabled.'
        )
        return None
    if not usable and not reading.problems:
        reading.problems.append(f"{BLOCK}: neither {SENDGRID} nor {NODEMAILER} is enabled.")
    if len(usable) == 2:
        reading.notes.append(
            f"{BLOCK}: both sections are enabled; SendGrid is used, as CodeStream does. Add "
            f'"selected": "{NODEMAILER}" to the file to import NodeMailer instead.'
        )
    return usable[0] if usable else None


def _text(reading: Reading, section: dict[str, Any], path: str, key: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    # A secret is named, never shown: this page and the command's output are no place for it.
    secret = key in SECRET_KEYS
    if not isinstance(value, str):
        what = "(not shown: a secret)" if secret else f"not {json5.dumps(value)}"
        reading.problems.append(f"{path}.{key}: should be text, {what}.")
        return ""
    if not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        reading.problems.append(
            f"{path}.{key}: holds a lone surrogate escape (\\uD800-\\uDFFF), not text."
        )
        return ""
    if "{{" in value or "${" in value:
        what = "it" if secret else f'"{value}"'
        reading.problems.append(
            f"{path}.{key}: {what} is a placeholder left for an installer, not a value."
        )
        return ""
    return value.strip()


def _set(reading: Reading, form_field: str, value: Any, path: str, shown: str = "") -> None:
    reading.values[form_field] = value
    reading.paths[form_field] = path
    if shown:
        reading.shown.append((shown, str(value)))


def _set_secret(reading: Reading, form_field: str, value: str, path: str, shown: str) -> None:
    """A secret goes to its encrypted field and is never shown, only said to be there."""
    reading.values[form_field] = value
    reading.paths[form_field] = path
    reading.shown.append((shown, "(secret, stored encrypted)"))


def _read_sendgrid(reading: Reading, section: dict[str, Any]) -> None:
    path = f"{BLOCK}.{SENDGRID}"
    reading.engine = SendGridEngine.key
    reading.values["engine"] = SendGridEngine.key
    reading.shown.append(("Engine", "SendGrid"))
    key = _text(reading, section, path, "apiKey")
    if not key and f"{path}.apiKey" not in " ".join(reading.problems):
        reading.problems.append(f"{path}.apiKey: missing; SendGrid needs the API key.")
    _set_secret(reading, "sendgrid_api_key_0", key, f"{path}.apiKey", "API key")
    url = _text(reading, section, path, "url") or "/v3/mail/send"
    _set(reading, "sendgrid_endpoint", urljoin(SENDGRID_API, url), f"{path}.url", "Endpoint")


def _read_nodemailer(reading: Reading, section: dict[str, Any]) -> None:
    path = f"{BLOCK}.{NODEMAILER}"
    reading.engine = SMTPEngine.key
    reading.values["engine"] = SMTPEngine.key
    reading.shown.append(("Engine", "SMTP (from NodeMailer)"))
    service = _text(reading, section, path, "service").lower()
    preset = SERVICES.get(service)
    if preset is None:
        if service:
            reading.notes.append(
                f"{path}.service: {service} has no preset here; the file's host and port are used."
            )
        host, port, security = _server(reading, section, path)
    else:
        host, port, security = preset.host, preset.port, preset.security
        reading.notes.append(
            f"{path}.service: {service}, imported with the {preset.label} preset (its server, "
            "port and security, as NodeMailer uses its own for a named service)."
        )
    if not host and not any(p.startswith(f"{path}.host") for p in reading.problems):
        reading.problems.append(
            f"{path}.host: missing; name the SMTP server (or a service such as gmail)."
        )
    _set(reading, "smtp_host", host, f"{path}.host", "Server")
    _set(reading, "smtp_port", port, f"{path}.port", "Port")
    _set(reading, "smtp_security", security, f"{path}.secure")
    reading.shown.append(("Security", Security(security).label))
    username = _text(reading, section, path, "username")
    password = _text(reading, section, path, "password")
    if username or password:
        _set(reading, "smtp_requires_auth", "on", f"{path}.username")
        _set(reading, "smtp_username", username, f"{path}.username", "Username")
        _set_secret(reading, "smtp_password_0", password, f"{path}.password", "Password")


def _server(reading: Reading, section: dict[str, Any], path: str) -> tuple[str, int | str, str]:
    host = _text(reading, section, path, "host")
    raw_port = section.get("port", 587)
    port: int | str = raw_port
    if isinstance(raw_port, str) and raw_port.strip().isdecimal() and len(raw_port) < 10:
        port = int(raw_port.strip())
    if isinstance(raw_port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        reading.problems.append(f"{path}.port: {json5.dumps(raw_port)} is not a port.")
    secure = section.get("secure", True)
    if not isinstance(secure, bool):
        reading.problems.append(f"{path}.secure: {json5.dumps(secure)} is not true or false.")
        secure = True
    if secure:
        security = Security.TLS
        if port == 587:
            reading.notes.append(
                f"{path}.secure: true means implicit TLS, but port 587 normally speaks "
                "STARTTLS; check it with Test connection, or choose STARTTLS."
            )
    else:
        security = Security.STARTTLS
        reading.notes.append(
            f"{path}.secure: false, imported as STARTTLS: Stagemail never sends mail or "
            "credentials unencrypted to another machine."
        )
    return host, port, security


def _read_email(reading: Reading, email: dict[str, Any]) -> None:
    sender = _text(reading, email, "email", "senderEmail")
    if not sender and not any(p.startswith("email.senderEmail") for p in reading.problems):
        reading.problems.append("email.senderEmail: missing; Stagemail needs a from address.")
    _set(reading, "from_email", sender, "email.senderEmail", "From address")
    divert = _text(reading, email, "email", "emailTo")
    if divert:
        reading.values["recipients_mode"] = RecipientsMode.TEST_LIST
        _set(reading, "recipients-0-email", divert, "email.emailTo")
        reading.shown.append(("Recipients", f"Test list: {divert} (from email.emailTo)"))
    else:
        reading.values["recipients_mode"] = RecipientsMode.APP
        reading.shown.append(("Recipients", RecipientsMode.APP.label))
    if email.get("suppressEmails") is True:
        reading.notes.append(
            "email.suppressEmails: true in CodeStream, which sent nothing; the imported "
            "configuration sends once an app uses it."
        )
