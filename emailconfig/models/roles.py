"""Stage roles: what a person may do on one stage. Administrators need none."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from emailconfig.models.configurations import Stage


class StageRole(models.TextChoices):
    """Each role includes the ones above it."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    PRODUCTION_EDITOR = "production_editor", "Production editor"


class StageGrant(models.Model):
    """One person's role on one stage."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stage_grants"
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(max_length=20, choices=StageRole.choices)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "stage"], name="one_role_per_user_and_stage")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} on {self.stage}"
