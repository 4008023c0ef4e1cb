"""Granting roles: administrator, and one role per stage."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from emailconfig.models import Stage, StageGrant, StageRole
from emailconfig.services.roles import NO_ROLE


def role_choices(stage: Stage) -> list[tuple[str, str]]:
    """On a production stage only a production editor changes anything, so that is offered
    instead of editor; a role held from before the stage became production stays shown."""
    change = StageRole.PRODUCTION_EDITOR if stage.is_production else StageRole.EDITOR
    return [(NO_ROLE, "No access"), (StageRole.VIEWER, "Viewer"), (change, change.label)]


class PersonForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ["username", "first_name", "last_name", "email"]


class RolesForm(forms.Form):
    active = forms.BooleanField(
        required=False,
        label="May sign in",
        help_text="Off: the person is signed out and cannot sign in; their roles are kept.",
    )
    administrator = forms.BooleanField(
        required=False,
        label="Administrator",
        help_text="Everything on every stage: stages, people and their roles, the audit trail.",
    )

    def __init__(self, *args: Any, user: Any, stages: list[Stage], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stages = stages
        held = dict(StageGrant.objects.filter(user=user).values_list("stage_id", "role"))
        self.initial.setdefault("administrator", user.is_superuser)
        self.initial.setdefault("active", user.is_active)
        for stage in stages:
            choices = role_choices(stage)
            current = held.get(stage.pk, NO_ROLE)
            if current not in dict(choices):  # held from before the stage changed
                # An editor of a stage since made production only reads there; a production
                # editor of one no longer production still changes it.
                note = "may only read here now" if stage.is_production else "changes it here"
                choices.append((current, f"{StageRole(current).label} ({note})"))
            self.fields[self.field_name(stage)] = forms.ChoiceField(
                choices=choices, required=False, label=stage.name, initial=current
            )

    @staticmethod
    def field_name(stage: Stage) -> str:
        return f"stage_{stage.pk}"

    def stage_fields(self) -> list[tuple[Stage, forms.BoundField]]:
        return [(stage, self[self.field_name(stage)]) for stage in self.stages]

    def stage_roles(self) -> dict[Stage, str]:
        return {stage: self.cleaned_data[self.field_name(stage)] for stage in self.stages}
