"""The "type the stage's name" confirmation that forms ask for an action touching production.

The typed name must match a production stage's name exactly, surrounding spaces aside:
capitals count, since the point is a deliberate act, not a guess. When an action touches
several production stages, the warning lists them all and any one of their names confirms.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from emailconfig.models import Stage
from emailconfig.production import production_stages

CONFIRM_FIELD = "confirm_stage"


def _quoted(names: list[str]) -> str:
    return ", ".join(f"“{name}”" for name in names)


class ProductionConfirmationMixin:
    """Adds `confirm_stage`; a form's clean() calls `confirm_production` with its stages."""

    cleaned_data: dict[str, Any]
    fields: dict[str, forms.Field]
    confirms_production = True  # False where another safeguard or no real action applies

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.production_stages: list[Stage] = []
        if self.confirms_production:
            self.fields[CONFIRM_FIELD] = forms.CharField(
                label="Type the production stage's name to confirm",
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )

    def warn_about(self, stages: Iterable[Stage]) -> None:
        """Which production stages the page warns about; set before and during validation."""
        self.production_stages = production_stages(stages) if self.confirms_production else []

    @property
    def production_names(self) -> list[str]:
        return [stage.name for stage in self.production_stages]

    def confirm_production(self, stages: Iterable[Stage], *, required: bool = True) -> None:
        """Refuse the action unless a production stage it touches was typed by name."""
        self.warn_about(stages)
        names = self.production_names
        if not names or not required:
            return
        typed = self.cleaned_data.get(CONFIRM_FIELD, "")
        if typed in names:
            return
        wanted = (
            f"“{names[0]}”"
            if len(names) == 1
            else f"the name of one of the production stages ({_quoted(names)})"
        )
        if not typed:
            message, code = f"This touches production: type {wanted} to confirm.", "required"
        else:
            message, code = (
                f"“{typed}” is not the production stage's name: type {wanted} exactly, "
                "capitals included.",
                "mismatch",
            )
        self.add_error(CONFIRM_FIELD, ValidationError(message, code=code))
