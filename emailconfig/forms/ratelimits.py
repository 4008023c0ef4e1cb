"""The API rate limit form on the app page, one per applied stage."""

from __future__ import annotations

from django import forms

# A sanity bound (about 1,700 a second), well above what one portal accepts.
MAX_RATE_LIMIT = 100_000


class RateLimitForm(forms.Form):
    rate_limit_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RATE_LIMIT,
        label="API rate limit (messages a minute)",
        error_messages={
            "invalid": "Enter a whole number of messages a minute.",
            "min_value": "At least 1 message a minute; leave it blank to use the default.",
            "max_value": f"At most {MAX_RATE_LIMIT:,} messages a minute.",
        },
    )
