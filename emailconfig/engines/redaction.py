"""Secrets a server repeats back are removed from its answers before anyone sees them.

A server may echo what it was sent (`535 … pass=…`, an AUTH line, a JSON error quoting
the key), and answers are shown, stored and logged. Every secret of the configuration is
looked for as it was sent and as the wire or an echo may have encoded it.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from emailconfig.delivery import DeliverySettings

REDACTED = "[redacted]"


def secret_forms(settings: DeliverySettings) -> tuple[str, ...]:
    """Each secret as sent and as echoed, longest first so no form is half replaced."""
    forms: set[str] = set()
    username = settings.options.get("username", "")
    for secret in settings.secrets.values():
        if plain := secret.reveal():
            # As is, and as AUTH PLAIN carries it.
            forms |= forms_of(plain, f"\0{username}\0{plain}")
    return longest_first(forms)


def forms_of(plain: str, *carriers: str) -> set[str]:
    """`plain` as is and as an echo may encode it, and base64 of it and of each string
    that carried it on the wire."""
    if not plain:
        return set()  # nothing to find, and "" would match everywhere
    encoded = {
        base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()
        for value in (plain, *carriers)
    }
    return encoded | {
        plain,
        quote(plain, safe=""),
        quote_plus(plain),
        json.dumps(plain)[1:-1],
        json.dumps(plain, ensure_ascii=False)[1:-1],
    }


def longest_first(forms: set[str]) -> tuple[str, ...]:
    return tuple(sorted(forms, key=len, reverse=True))


def redact(text: str, forms: tuple[str, ...]) -> str:
    for form in forms:
        text = text.replace(form, REDACTED)
    return text
