"""Administrator tokens: scripted access to the admin API, for one person, some stages, read
or write. What a token may do is narrowed from its owner's access at every request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from emailconfig.models.configurations import Stage


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class AdminToken(models.Model):
    """Only a hash is stored; the token is shown once, when it is issued."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the script.")
    scope = models.CharField(max_length=10, choices=TokenScope, default=TokenScope.READ)
    stages = models.ManyToManyField(Stage, related_name="admin_tokens")
    prefix = models.CharField(
        max_length=16, help_text="The token's first characters, to tell it apart."
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=TokenScope.values), name="admin_token_scope_known"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… “{self.name}” of {self.owner}"

    @property
    def writes(self) -> bool:
        return self.scope == TokenScope.WRITE
