"""The SMTP engine's options: server, security and how it signs in (password or OAuth2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from emailconfig import outbound
from emailconfig.engines.options import EngineOptions
from emailconfig.forms.secrets import SecretFormField
from emailconfig.validators import is_loopback, validate_header_safe, validate_host


class Security(models.TextChoices):
    NONE = "none", "None (plain SMTP)"
    STARTTLS = "starttls", "STARTTLS"
    TLS = "tls", "Implicit TLS"


class SignIn(models.TextChoices):
    PASSWORD = "password", "Basic authentication (AUTH PLAIN or LOGIN)"
    MICROSOFT365 = "microsoft365", "Microsoft 365 OAuth2 (app registration)"
    GOOGLE = "google", "Google Workspace OAuth2 (service account)"


# The options each way of signing in uses, besides the username.
SIGN_IN_OPTIONS = {
    SignIn.PASSWORD: ("password",),
    SignIn.MICROSOFT365: ("tenant", "client_id", "client_secret"),
    SignIn.GOOGLE: ("service_account_key",),
}
SIGN_IN_SUMMARY = {
    SignIn.PASSWORD: "Password",
    SignIn.MICROSOFT365: "Microsoft 365 OAuth2",
    SignIn.GOOGLE: "Google OAuth2",
}
_SERVER = ("host", "port", "security")
_SIGNING_IN = {"requires_auth": True}


class SMTPOptions(EngineOptions):
    engine = "smtp"
    # An OAuth2 secret is sent to its token endpoint, but the token it buys goes to the
    # SMTP server: moving the server moves what the secret is worth.
    secret_destinations = {
        "password": _SERVER,
        "client_secret": ("tenant", *_SERVER),
        "service_account_key": _SERVER,
    }
    used_when = {
        "sign_in": _SIGNING_IN,
        "username": _SIGNING_IN,
        **{
            option: {**_SIGNING_IN, "sign_in": sign_in.value}
            for sign_in, used in SIGN_IN_OPTIONS.items()
            for option in used
        },
    }
    pairs = (("host", "port"), ("username", "password"), ("tenant", "client_id"))
    template_name = "emailconfig/engines/smtp_options.html"

    smtp_host = forms.CharField(
        label="Server host or IP", max_length=253, required=False, validators=[validate_host]
    )
    smtp_port = forms.IntegerField(
        label="Port", initial=25, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    smtp_security = forms.ChoiceField(label="Security", choices=Security, initial=Security.NONE)
    smtp_requires_auth = forms.BooleanField(label="Requires authentication", required=False)
    smtp_sign_in = forms.TypedChoiceField(
        label="Sign in with",
        choices=SignIn,
        initial=SignIn.PASSWORD,
        required=False,  # left out (an older client): a password
        empty_value=SignIn.PASSWORD.value,  # by the field itself, so a document's "" is refused
        widget=forms.RadioSelect,
        help_text="Microsoft 365 ends basic authentication for SMTP; use OAuth2 there.",
    )
    smtp_username = forms.CharField(
        label="Username",
        max_length=255,
        required=False,
        validators=[validate_header_safe],
        help_text="With OAuth2: the mailbox the app sends as.",
    )
    smtp_password = SecretFormField(label="Password")
    smtp_tenant = forms.CharField(
        label="Tenant",
        max_length=100,
        required=False,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9.-]*$",
                "Enter the directory (tenant) ID or its domain, such as contoso.onmicrosoft.com.",
            )
        ],
        help_text="The directory (tenant) ID or domain where the app is registered.",
    )
    smtp_client_id = forms.CharField(
        label="Application (client) ID",
        max_length=100,
        required=False,
        validators=[validate_header_safe],
    )
    smtp_client_secret = SecretFormField(
        label="Client secret", help_text="The secret's Value, not its Secret ID."
    )
    smtp_service_account_key = SecretFormField(
        label="Service account key (JSON)",
        multiline=True,
        max_length=16384,
        help_text="The key file as downloaded from Google Cloud; the service account needs "
        "domain-wide delegation for https://mail.google.com/.",
    )

    @classmethod
    def summary(cls, options: Mapping[str, Any]) -> dict[str, str]:
        server = SMTPServer.of(options)
        return {
            "server": f"{server.host}:{server.port}",
            "detail": Security(server.security).label,
            "sign_in": SIGN_IN_SUMMARY[server.sign_in] if server.requires_auth else "No",
        }

    def clean_smtp_password(self) -> object:
        value = self.cleaned_data.get("smtp_password")
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(
                "Use only ASCII characters: SMTP authentication as Stagemail sends it "
                "(AUTH PLAIN or LOGIN) carries ASCII only, so this password could never work.",
                code="not_ascii",
            )
        return value

    def clean_smtp_service_account_key(self) -> object:
        value = self.cleaned_data.get("smtp_service_account_key")
        if isinstance(value, str):
            from emailconfig.oauth import TokenError  # the providers import the engines
            from emailconfig.oauth.google_workspace import read_key

            try:
                read_key(value)
            except TokenError as error:
                raise ValidationError(error.message, code="invalid_key") from None
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        host = data.get("smtp_host", "")
        if not host and "smtp_host" not in self.errors:
            self.add_error("smtp_host", "Enter the SMTP server's host name or IP address.")
        port = data.get("smtp_port")
        if port and "smtp_port" not in self.errors:
            self._allowed("smtp_port", outbound.check_port, port, outbound.SMTP)
        if host and "smtp_host" not in self.errors:
            self._allowed("smtp_host", outbound.check_host, host)
        if data.get("smtp_requires_auth"):
            self._clean_sign_in(data)
        return data

    def _clean_sign_in(self, data: dict[str, Any]) -> None:
        sign_in = data.get("smtp_sign_in") or SignIn.PASSWORD
        if not data.get("smtp_username") and "smtp_username" not in self.errors:
            self.add_error(
                "smtp_username",
                "Enter the username the server expects."
                if sign_in == SignIn.PASSWORD
                else "Enter the mailbox to send as: it is the username with OAuth2.",
            )
        required = {
            "password": "Enter the password for this username.",
            "tenant": "Enter the tenant where the app is registered.",
            "client_id": "Enter the app registration's application (client) ID.",
            "client_secret": "Enter the app registration's client secret.",
            "service_account_key": "Paste the service account's JSON key.",
        }
        for option in SIGN_IN_OPTIONS[sign_in]:
            name = self.field_name(option)
            given = self.secret_after_save(option) if self.is_secret(option) else data.get(name)
            if not given and name not in self.errors:
                self.add_error(name, required[option])
        host = data.get("smtp_host", "")
        if data.get("smtp_security") == Security.NONE and host and not is_loopback(host):
            self.add_error(
                "smtp_security",
                "Credentials are never sent unencrypted to another machine; "
                "choose STARTTLS or implicit TLS.",
            )

    def _allowed(self, name: str, check: Any, *args: Any) -> None:
        """The outbound policy's refusal of a destination, on the field that names it."""
        try:
            check(*args)
        except outbound.OutboundRefused as refused:
            self.add_error(name, ValidationError(refused.message, code="not_allowed"))


@dataclass(frozen=True)
class SMTPServer:
    """The stored options as the engine reads them."""

    host: str = ""
    port: int = 25
    security: str = Security.NONE
    requires_auth: bool = False
    sign_in: str = SignIn.PASSWORD
    username: str = ""
    tenant: str = ""
    client_id: str = ""

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> SMTPServer:
        return cls(**{f.name: options[f.name] for f in fields(cls) if f.name in options})
