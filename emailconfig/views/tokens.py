"""API tokens per (app, stage): list, issue (shown once), rotate with a grace period, revoke."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from emailconfig import crypto
from emailconfig.audit import Actor
from emailconfig.models import ApiToken, App
from emailconfig.services import tokens
from emailconfig.views.guards import access, edited_stage, member_required, seen_stage

GRACE_CHOICES = [
    ("0", "None: the old tokens stop now"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
]

# Session key holding a just-issued token, encrypted like every stored secret, until the
# redirected page shows it, once.
NEW_TOKEN = "stagemail_new_token"  # noqa: S105  (a key name, not a secret)


class RotateForm(forms.Form):
    grace = forms.TypedChoiceField(
        choices=GRACE_CHOICES, coerce=int, initial="86400", label="Old tokens keep working for"
    )


@never_cache  # the page may show a new token once; no cache may keep it
@member_required
def token_list(request: HttpRequest, slug: str, stage_slug: str) -> HttpResponse:
    stage = seen_stage(request, stage_slug)
    app = get_object_or_404(App, slug=slug)
    # Taken out of the session whichever page asks, so the plaintext does not linger there.
    issued = request.session.pop(NEW_TOKEN, None)
    shown_here = issued and (issued["app"], issued["stage"]) == (app.pk, stage.pk)
    return render(
        request,
        "emailconfig/apps/tokens.html",
        {
            "section": "apps",
            "app": app,
            "stage": stage,
            "can_edit": access(request).edits(stage),
            "credentials": ApiToken.objects.filter(app=app, stage=stage).select_related(
                "created_by"
            ),
            "new_token": crypto.decrypt(issued["token"]) if shown_here else "",
            "rotate_form": RotateForm(),
        },
    )


@require_POST
@member_required
def token_issue(request: HttpRequest, slug: str, stage_slug: str) -> HttpResponse:
    stage = edited_stage(request, stage_slug)
    app = get_object_or_404(App, slug=slug)
    rotating = "rotate" in request.POST
    form = RotateForm(request.POST)
    if rotating and form.is_valid():
        grace = timedelta(seconds=form.cleaned_data["grace"])
        _, token = tokens.rotate(app, stage, grace=grace, by=Actor.of(request))
    else:
        _, token = tokens.issue(app, stage, by=Actor.of(request))
    # Post/Redirect/Get: reloading the page that shows the token must not issue another.
    sealed = crypto.encrypt(token)
    request.session[NEW_TOKEN] = {"app": app.pk, "stage": stage.pk, "token": sealed}
    return redirect("emailconfig:token_list", slug=app.slug, stage_slug=stage.slug)


@require_POST
@member_required
def token_revoke(request: HttpRequest, slug: str, stage_slug: str, pk: int) -> HttpResponse:
    stage = edited_stage(request, stage_slug)
    app = get_object_or_404(App, slug=slug)
    credential = get_object_or_404(ApiToken, pk=pk, app=app, stage=stage)
    tokens.revoke(credential, by=Actor.of(request))
    messages.success(request, f"Revoked token {credential.prefix}…; it no longer works.")
    return redirect("emailconfig:token_list", slug=app.slug, stage_slug=stage.slug)
