"""Write-only form input for secrets.

The stored value is never rendered back. The form says whether a secret is
stored; leaving the input blank keeps it, and an explicit checkbox clears it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from emailconfig.validators import validate_header_safe

KEEP_STORED_SECRET = object()
CLEAR_STORED_SECRET = object()

MAX_SECRET_LENGTH = 4096


class WriteOnlyTextarea(forms.Textarea):
    """A text area that never shows a value, not even the one just posted."""

    def format_value(self, value: Any) -> None:
        return None


class SecretWidget(forms.MultiWidget):
    template_name = "emailconfig/widgets/secret.html"
    use_fieldset = False  # the field's label points at the text input itself

    def __init__(self, attrs: dict[str, Any] | None = None, *, multiline: bool = False) -> None:
        self.stored = False
        off = {"autocomplete": "off" if multiline else "new-password", "spellcheck": "false"}
        # A text area is never filled in either: it renders without the stored value.
        text = WriteOnlyTextarea(attrs={**off, "rows": 4}) if multiline else None
        super().__init__(
            [text or forms.PasswordInput(render_value=False, attrs=off), forms.CheckboxInput()],
            attrs,
        )

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0" if id_ else id_

    def decompress(self, value: object) -> list[object]:
        return [None, False]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["stored"] = self.stored
        return context


class SecretFormField(forms.MultiValueField):
    """Cleans to a new plaintext, `KEEP_STORED_SECRET` or `CLEAR_STORED_SECRET`."""

    widget = SecretWidget
    default_error_messages = {
        "both": "Either type a new value or clear the stored one, not both.",
    }

    def __init__(
        self, *, max_length: int | None = None, multiline: bool = False, **kwargs: Any
    ) -> None:
        """`multiline` for a key file pasted whole, which is never sent as it is."""
        kwargs.pop("empty_value", None)
        kwargs["required"] = False
        # Always write-only, whatever widget a caller (the admin's TextField default) offers.
        kwargs["widget"] = SecretWidget(multiline=multiline)
        super().__init__(
            fields=[
                forms.CharField(
                    strip=multiline,  # a password may end in a space; a key file may not
                    required=False,
                    max_length=max_length or MAX_SECRET_LENGTH,
                    # A secret travels in a header or an SMTP command; the message never
                    # repeats the value.
                    validators=[] if multiline else [validate_header_safe],
                ),
                forms.BooleanField(required=False),
            ],
            require_all_fields=False,
            **kwargs,
        )

    @property
    def stored(self) -> bool:
        return self.widget.stored

    @stored.setter
    def stored(self, value: bool) -> None:
        self.widget.stored = value

    @staticmethod
    def _parts(values: Any) -> tuple[Any, Any]:
        new_value, clear = [*(values or []), None, False][:2]
        return new_value, clear

    def compress(self, data_list: list[Any]) -> object:
        new_value, clear = self._parts(data_list)
        if new_value and clear:
            raise ValidationError(self.error_messages["both"], code="both")
        if clear:
            return CLEAR_STORED_SECRET
        if new_value:
            return new_value
        return KEEP_STORED_SECRET

    def has_changed(self, initial: Any, data: Any) -> bool:
        new_value, clear = self._parts(data)
        return bool(new_value) or bool(clear)
