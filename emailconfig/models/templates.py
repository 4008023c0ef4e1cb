"""Email templates and the record of test-sends."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from emailconfig.models.configurations import ConfigurationVersion


class EmailTemplate(models.Model):
    """Subject, text and HTML in sandboxed Jinja2, with sample data for previews."""

    key = models.SlugField(
        max_length=80, unique=True, help_text="How apps name this template, e.g. password-reset."
    )
    name = models.CharField(max_length=120)
    subject = models.CharField(max_length=998)
    text_body = models.TextField("text body", blank=True)
    html_body = models.TextField("HTML body", blank=True)
    sample_data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(text_body="", html_body=""), name="template_has_a_body"
            )
        ]

    def __str__(self) -> str:
        return self.key


class Outcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    TEMPORARY = "temporary", "Failed (temporary)"
    PERMANENT = "permanent", "Failed (permanent)"


class TestSend(models.Model):
    """One test-send from the preview page, kept for the record and for rate limiting."""

    __test__ = False

    version = models.ForeignKey(
        ConfigurationVersion,
        null=True,  # none: sent with a configuration form's unsaved settings
        on_delete=models.CASCADE,
        related_name="test_sends",
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, on_delete=models.SET_NULL, related_name="test_sends"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)
    message_id = models.CharField(max_length=255)
    subject = models.CharField(max_length=998)
    recipients = models.JSONField(default=list)
    outcome = models.CharField(max_length=20, choices=Outcome)
    server_answer = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"Test-send {self.message_id} ({self.outcome})"
