"""The account's administrator tokens (for the admin API): list, issue (shown once), revoke.

Everyone manages their own; administrators also see and revoke everyone's.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from emailconfig import crypto
from emailconfig.audit import Actor
from emailconfig.forms.admin_tokens import AdminTokenForm
from emailconfig.models import AdminToken
from emailconfig.services import admin_tokens
from emailconfig.views.guards import access

SECTION = "account"
# A just-issued token, sealed like every stored secret, until the redirected page shows it.
NEW_TOKEN = "stagemail_new_admin_token"  # noqa: S105  (a key name, not a secret)


def _visible(request: HttpRequest):
    tokens = AdminToken.objects.select_related("owner").prefetch_related("stages")
    return tokens if access(request).administrator else tokens.filter(owner=request.user)


@never_cache  # the page may show a new token once; no cache may keep it
def api_tokens(request: HttpRequest, form: AdminTokenForm | None = None) -> HttpResponse:
    sealed = request.session.pop(NEW_TOKEN, None)
    return render(
        request,
        "emailconfig/account/api_tokens.html",
        {
            "section": SECTION,
            "tokens": _visible(request),
            "form": form or AdminTokenForm(access=access(request)),
            "new_token": crypto.decrypt(sealed) if sealed else "",
        },
    )


@require_POST
def api_token_issue(request: HttpRequest) -> HttpResponse:
    form = AdminTokenForm(request.POST, access=access(request))
    if not form.is_valid():
        messages.error(request, "No token was issued. Correct the fields marked below.")
        return api_tokens(request, form)
    _, token = admin_tokens.issue(
        request.user,
        name=form.cleaned_data["name"],
        scope=form.cleaned_data["scope"],
        stages=list(form.cleaned_data["stages"]),
        by=Actor.of(request),
    )
    # Post/Redirect/Get: reloading the page that shows the token must not issue another.
    request.session[NEW_TOKEN] = crypto.encrypt(token)
    return redirect("emailconfig:api_tokens")


@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(_visible(request), pk=pk)
    if admin_tokens.revoke(credential, by=Actor.of(request)):
        messages.success(request, f"Revoked token {credential.prefix}…; it no longer works.")
    return redirect("emailconfig:api_tokens")
