"""Server presets that fill host, port, security and sign-in on the configuration form."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from emailconfig.engines.smtp.options import Security, SignIn


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    host: str
    port: int
    security: str
    requires_auth: bool
    username_hint: str = ""
    sign_in: str = SignIn.PASSWORD


PRESETS = [
    Preset(
        "gmail",
        "Gmail / Google Workspace (app password)",
        "smtp.gmail.com",
        587,
        Security.STARTTLS,
        True,
        "Full address; use an app password",
    ),
    Preset(
        "google_oauth2",
        "Google Workspace (OAuth2 service account)",
        "smtp.gmail.com",
        587,
        Security.STARTTLS,
        True,
        "The mailbox to send as; the service account impersonates it",
        SignIn.GOOGLE,
    ),
    Preset(
        "microsoft365",
        "Microsoft 365 (OAuth2)",
        "smtp.office365.com",
        587,
        Security.STARTTLS,
        True,
        "The mailbox the app may send as",
        SignIn.MICROSOFT365,
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
    return [{**asdict(p), "security": str(p.security), "sign_in": str(p.sign_in)} for p in PRESETS]
