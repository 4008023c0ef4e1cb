"""Validators shared by models, forms and (later) the API."""

from __future__ import annotations

import ipaddress
import re
import ssl

from django.core.exceptions import ValidationError

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line breaks
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def has_control_characters(value: str) -> bool:
    """Whether text could break out of an email header or a protocol line: the one rule."""
    return _CONTROL_CHARACTERS.search(value) is not None


def validate_header_safe(value: str) -> None:
    """Refuse text that could break out of an email header (CR, LF and other controls)."""
    if has_control_characters(value):
        raise ValidationError(
            "Line breaks and control characters are not allowed here.",
            code="header_injection",
        )


def validate_host(value: str) -> None:
    """Accept a DNS name or an IPv4/IPv6 address, nothing else (no scheme, port or path)."""
    if not value:
        return
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate)
        return
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        hint = ""
        if "://" in value or ":" in value or "/" in value:
            hint = " Give only the host name; the port has its own field."
        raise ValidationError(
            f"“{value}” is not a valid host name or IP address.{hint}", code="invalid_host"
        )


def is_loopback(host: str) -> bool:
    """Whether a host names this machine (credentials may then travel unencrypted)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----"
)


def validate_pem_certificates(value: str) -> None:
    """Accept one or more PEM certificates that the TLS library can load."""
    if not value.strip():
        return
    if not _PEM_BLOCK.search(value):
        raise ValidationError(
            "Paste PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----).",
            code="invalid_pem",
        )
    try:
        ssl.create_default_context().load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError) as exc:
        raise ValidationError(
            f"These certificates cannot be loaded: {exc}.", code="invalid_pem"
        ) from None
