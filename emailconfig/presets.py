"""Server presets that fill host, port, security and authentication on the configuration form."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from emailconfig.models import Security


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    host: str
    port: int
    security: str
    requires_auth: bool
    username_hint: str = ""


PRESETS = [
    Preset(
        "gmail",
        "Gmail / Google Workspace",
        "smtp.gmail.com",
        587,
        Security.STARTTLS,
        True,
        "Full address; use an app password",
    ),
    Preset(
        "microsoft365",
        "Microsoft 365",
        "smtp.office365.com",
        587,
        Security.STARTTLS,
        True,
        "Full mailbox address",
    ),
    Preset(
        "sendgrid_smtp",
        "SendGrid SMTP relay",
        "smtp.sendgrid.net",
        587,
        Security.STARTTLS,
        True,
        "The literal word apikey; the password is the API key",
    ),
    Preset(
        "amazon_ses",
        "Amazon SES SMTP (us-east-1)",
        "email-smtp.us-east-1.amazonaws.com",
        587,
        Security.STARTTLS,
        True,
        "SMTP credentials from the SES console, not IAM keys",
    ),
    Preset("local_sink", "Local development sink", "127.0.0.1", 1025, Security.NONE, False),
]


def presets_for_script() -> list[dict[str, object]]:
    return [{**asdict(p), "security": str(p.security)} for p in PRESETS]
