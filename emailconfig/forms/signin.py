"""The authenticator code, at sign-in and when setting up the app."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        help_text="The 6 digits your app shows now for Stagemail.",
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, device: TOTPDevice, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        allowed, wait = self.device.verify_is_allowed()
        if not allowed:
            seconds = math.ceil((wait["locked_until"] - timezone.now()).total_seconds())
            raise forms.ValidationError(
                f"Too many wrong codes: wait {max(seconds, 1)} seconds, then enter a new code.",
                code="throttled",
            )
        if not (len(code) == 6 and code.isdigit()):
            raise forms.ValidationError("Enter the 6 digits your app shows.", code="format")
        if not self.device.verify_token(code):
            raise forms.ValidationError(
                "That code is not right, or no longer current: enter the code your app shows now.",
                code="wrong",
            )
        return code
