"""Template verbs: save a new or changed email template."""

from __future__ import annotations

from django import forms
from django.db import transaction

from emailconfig import audit
from emailconfig.audit import Who
from emailconfig.models import AuditAction, EmailTemplate


@transaction.atomic
def save(form: forms.ModelForm, *, by: Who) -> EmailTemplate:
    """Save a valid template form, naming who changed it last."""
    adding = form.instance._state.adding
    changes = audit.form_changes(form, values=False)  # bodies are long; the fields say enough
    template = form.save(commit=False)
    template.updated_by = audit.actor(by).user
    template.save()
    audit.record(
        by,
        AuditAction.TEMPLATE_CREATED if adding else AuditAction.TEMPLATE_EDITED,
        template.key,
        details={} if adding else {"changes": changes},
    )
    return template
