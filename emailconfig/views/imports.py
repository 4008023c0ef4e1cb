"""Importing a CodeStream config file: upload, see what it creates, then create it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from emailconfig import crypto
from emailconfig.audit import Actor
from emailconfig.forms.imports import CodeStreamUploadForm
from emailconfig.services import imports
from emailconfig.views.guards import access, edited_stage, editor_required

SECTION = "configurations"
# The uploaded file between the plan and its confirmation: encrypted (it holds secrets),
# never sent back to the browser.
PENDING = "stagemail_codestream_import"


@never_cache
@sensitive_post_parameters()
@editor_required
def codestream_import(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "create" in request.POST:
        return _create(request)
    form = CodeStreamUploadForm(request.POST or None, request.FILES or None, access=access(request))
    if not form.is_valid():
        return render(
            request, "emailconfig/imports/upload.html", {"section": SECTION, "form": form}
        )
    data = form.cleaned_data
    plan = imports.plan(
        data["file"], stage=data["stage"], name=data["name"], access=access(request)
    )
    request.session[PENDING] = {
        "text": crypto.encrypt(data["file"]),
        "stage": data["stage"].slug,
        "name": plan.name,
    }
    return _plan_page(request, plan)


def _create(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if pending is None:
        messages.error(request, "Upload the file again: this import is no longer waiting.")
        return redirect("emailconfig:codestream_import")
    plan = imports.plan(
        crypto.decrypt(pending["text"]),
        stage=edited_stage(request, pending["stage"]),
        name=pending["name"],
        access=access(request),
        confirm_stage=request.POST.get("confirm_stage", ""),
    )
    try:
        version = imports.save(plan, by=Actor.of(request))
    except ValueError:
        return _plan_page(request, plan)
    del request.session[PENDING]
    messages.success(request, f"Imported {version} for {plan.stage}.")
    return redirect("emailconfig:configuration_detail", pk=version.configuration_id)


def _plan_page(request: HttpRequest, plan: imports.Plan) -> HttpResponse:
    return render(
        request,
        "emailconfig/imports/plan.html",
        {"section": SECTION, "plan": plan, "form": plan.form},
    )
