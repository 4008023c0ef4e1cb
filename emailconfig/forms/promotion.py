"""The promotion page's choices: which fields to carry, and secrets typed anew."""

from __future__ import annotations

from typing import Any

from django import forms

from emailconfig.forms.production import ProductionConfirmationMixin
from emailconfig.promotion import Row


class PromotionForm(ProductionConfirmationMixin, forms.Form):
    """The configuration form the result goes through checks the confirmation; this one
    shows the field and its error."""

    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, rows: list[Row], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            # Secrets never by default: carried only when ticked on purpose.
            self.fields[f"carry_{row.name}"] = forms.BooleanField(
                required=False,
                initial=row.differs and not row.is_secret,
                label=f"Carry {row.label.lower()}",
            )
            if row.is_secret:
                self.fields[f"new_{row.name}"] = forms.CharField(
                    required=False,
                    strip=False,
                    max_length=4096,
                    label=f"Or type a new {row.label.lower()}",
                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                )

    def problems(self, result: forms.Form) -> list[str]:
        """The result's errors as lines naming their field; the confirmation's go on ours."""
        lines = []
        for name, errors in result.errors.items():
            if name == "confirm_stage":
                for error in errors:
                    self.add_error("confirm_stage", error)
                continue
            label = result.fields[name].label if name in result.fields else ""
            lines += [f"{label}: {error}" if label else error for error in errors]
        return lines

    def carried(self) -> set[str]:
        return {row.name for row in self.rows if self.cleaned_data.get(f"carry_{row.name}")}

    def typed_secrets(self) -> dict[str, str]:
        return {
            row.name: self.cleaned_data[f"new_{row.name}"]
            for row in self.rows
            if row.is_secret and self.cleaned_data.get(f"new_{row.name}")
        }

    def table(self) -> list[tuple[Row, forms.BoundField, forms.BoundField | None]]:
        return [
            (
                row,
                self[f"carry_{row.name}"],
                self[f"new_{row.name}"] if row.is_secret else None,
            )
            for row in self.rows
        ]
