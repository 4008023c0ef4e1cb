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
    for secret in (settings.smtp_password, settings.sendgrid_api_key):
        if secret is None or not (plain := secret.reveal()):
            continue
        sent = [plain, f"\0{settings.smtp_username}\0{plain}"]  # as is, and AUTH PLAIN's
        for value in sent:
            forms.add(base64.b64encode(value.encode("utf-8", "surrogatepass")).decode())
        forms.update(
            {
                plain,
                quote(plain, safe=""),
                quote_plus(plain),
                json.dumps(plain)[1:-1],
                json.dumps(plain, ensure_ascii=False)[1:-1],
            }
        )
    return tuple(sorted(forms, key=len, reverse=True))


def redact(text: str, forms: tuple[str, ...]) -> str:
    for form in forms:
        text = text.replace(form, REDACTED)
    return text
