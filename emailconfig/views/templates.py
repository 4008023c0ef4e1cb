"""Email templates: list, create, edit."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from emailconfig.audit import Actor
from emailconfig.forms.templates import EmailTemplateForm
from emailconfig.models import EmailTemplate
from emailconfig.services import templates as template_services
from emailconfig.views.guards import member_required, templates_editor_required

SECTION = "templates"


@member_required
def template_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "emailconfig/templates/list.html",
        {"section": SECTION, "templates": EmailTemplate.objects.select_related("updated_by")},
    )


@templates_editor_required
def template_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, EmailTemplate())


@templates_editor_required
def template_edit(request: HttpRequest, key: str) -> HttpResponse:
    return _edit(request, get_object_or_404(EmailTemplate, key=key))


def _edit(request: HttpRequest, template: EmailTemplate) -> HttpResponse:
    adding = template._state.adding
    form = EmailTemplateForm(request.POST if request.method == "POST" else None, instance=template)
    if form.is_valid():
        template = template_services.save(form, by=Actor.of(request))
        messages.success(request, f"Saved template “{template.key}”.")
        return redirect("emailconfig:template_list")
    if request.method == "POST":
        messages.error(request, "Nothing was saved. Correct the fields marked below.")
    return render(
        request,
        "emailconfig/templates/form.html",
        {"section": SECTION, "form": form, "adding": adding, "template": template},
    )
