"""Registered apps: list, register, edit, the per-stage apply / re-apply flow and rate limit."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from emailconfig import queries, versions
from emailconfig.audit import Actor
from emailconfig.forms.catalogue import AppForm, ApplyForm
from emailconfig.forms.lists import AppSearch
from emailconfig.forms.ratelimits import RateLimitForm
from emailconfig.models import App, AppliedConfiguration, Stage
from emailconfig.pagination import paginate
from emailconfig.services import configurations as services
from emailconfig.services import ratelimits
from emailconfig.views.guards import access, edited_stage, editor_required, member_required

SECTION = "apps"
SEARCHED = ("name", "slug", "description")


@member_required
def app_list(request: HttpRequest) -> HttpResponse:
    search = AppSearch(
        request.GET,
        label="Search apps (name, slug or description)",
        fields=SEARCHED,
        stages=access(request).stages(),
    )
    listing = paginate(request, search.filter(App.objects.order_by("name")))
    queries.with_applied_rows(listing["page"].object_list, access(request))
    return render(
        request,
        "emailconfig/apps/list.html",
        {"section": SECTION, "search": search, **listing},
    )


@editor_required
def app_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, App())


@editor_required
def app_edit(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit(request, get_object_or_404(App, slug=slug))


def _edit(request: HttpRequest, app: App) -> HttpResponse:
    adding = app._state.adding
    form = AppForm(request.POST if request.method == "POST" else None, instance=app)
    if form.is_valid():
        form.save()
        messages.success(request, f"{'Registered' if adding else 'Saved'} {app}.")
        return redirect("emailconfig:app_detail", slug=app.slug)
    return render(
        request, "emailconfig/apps/form.html", {"section": SECTION, "form": form, "adding": adding}
    )


@member_required
def app_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _detail(request, get_object_or_404(App, slug=slug))


def _detail(
    request: HttpRequest,
    app: App,
    refused_limit: tuple[Stage, RateLimitForm] | None = None,
) -> HttpResponse:
    """The app page; `refused_limit` brings a refused rate limit back to its stage's row."""
    stage, form = refused_limit or (None, None)
    return render(
        request,
        "emailconfig/apps/detail.html",
        {
            "section": SECTION,
            "app": app,
            "rows": queries.stage_rows(app, access(request)),
            "default_rate_limit": settings.STAGEMAIL_API_RATE_LIMIT,
            "rate_limit_stage": stage,
            "rate_limit_form": form,
        },
    )


@require_POST
@member_required
def rate_limit(request: HttpRequest, slug: str, stage_slug: str) -> HttpResponse:
    stage = edited_stage(request, stage_slug)
    applied = get_object_or_404(
        AppliedConfiguration.objects.select_related("app", "stage"), app__slug=slug, stage=stage
    )
    form = RateLimitForm(request.POST)
    if not form.is_valid():
        return _detail(request, applied.app, refused_limit=(applied.stage, form))
    limit = form.cleaned_data["rate_limit_per_minute"]
    ratelimits.set_rate_limit(applied, limit)
    where = f"{applied.app} on {applied.stage}"
    messages.success(
        request,
        f"{where} uses the default limit again: "
        f"{settings.STAGEMAIL_API_RATE_LIMIT:,} messages a minute."
        if limit is None
        else f"The API now accepts up to {limit:,} messages a minute from {where}.",
    )
    return redirect(reverse("emailconfig:app_detail", args=[slug]) + f"#stage-{stage_slug}")


@require_http_methods(["GET", "POST"])
@member_required
def apply(request: HttpRequest, slug: str, stage_slug: str) -> HttpResponse:
    """GET asks for confirmation and shows what changes; POST applies the confirmed version."""
    stage = edited_stage(request, stage_slug)
    app = get_object_or_404(App, slug=slug)
    current = (
        AppliedConfiguration.objects.filter(app=app, stage=stage)
        .select_related("version", "version__configuration")
        .first()
    )
    form = ApplyForm(
        request.POST if request.method == "POST" else None, stage=stage, access=access(request)
    )
    newest = None
    if request.method == "POST":
        if "version" in form.errors:
            messages.error(request, "That version does not exist; nothing was applied.")
            return redirect("emailconfig:app_detail", slug=app.slug)
        version = form.cleaned_data["version"]
        if form.is_valid():
            try:
                applied = services.apply_version(app, stage, version, by=Actor.of(request))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                verb = "Re-applied" if current else "Applied"
                pinned = (
                    f" {app} is pinned to it: not shown as behind until a newer version is applied."
                    if applied.pinned
                    else ""
                )
                messages.success(request, f"{verb} {version} to {app} on {stage}.{pinned}")
            return redirect("emailconfig:app_detail", slug=app.slug)
    else:
        newest = queries.latest_versions_by_stage().get(stage.pk)
        if newest is None:
            messages.error(request, f"No configuration covers {stage}; create one first.")
            return redirect("emailconfig:app_detail", slug=app.slug)
        # ?version= picks an older version of the covering configuration: a rollback.
        version = newest
        chosen = request.GET.get("version", "")
        if chosen.isdecimal():
            version = newest.configuration.versions.filter(pk=chosen).first() or newest
    same_configuration = current and current.version.configuration_id == version.configuration_id
    return render(
        request,
        "emailconfig/apps/apply_confirm.html",
        {
            "section": SECTION,
            "app": app,
            "stage": stage,
            "form": form,
            "version": version,
            "history": newest.configuration.versions.order_by("-number") if newest else (),
            "newest": newest,
            "current": current,
            "changes": versions.diff(current.version, version) if same_configuration else None,
        },
    )
