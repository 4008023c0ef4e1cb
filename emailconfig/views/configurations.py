"""Email configuration pages: list, create, edit, detail with history and diff."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from emailconfig import queries, versions
from emailconfig.forms.configurations import ConfigurationForm
from emailconfig.forms.lists import ListSearch
from emailconfig.models import EmailConfiguration
from emailconfig.pagination import paginate
from emailconfig.presets import presets_for_script

SECTION = "configurations"


@permission_required("emailconfig.view_emailconfiguration", raise_exception=True)
def configuration_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "emailconfig/configurations/list.html",
        {"section": SECTION, "configurations": queries.configurations_with_usage()},
    )


@sensitive_post_parameters()
@permission_required("emailconfig.add_emailconfiguration", raise_exception=True)
def configuration_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, EmailConfiguration())


@sensitive_post_parameters()
@permission_required("emailconfig.change_emailconfiguration", raise_exception=True)
def configuration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(EmailConfiguration, pk=pk))


def _edit(request: HttpRequest, configuration: EmailConfiguration) -> HttpResponse:
    adding = configuration._state.adding
    form = ConfigurationForm(
        request.POST if request.method == "POST" else None, instance=configuration
    )
    if request.method == "POST" and form.is_valid():
        version = form.save_version(author=request.user)
        if not form.errors:
            if version is None:
                messages.info(request, "Nothing changed, so no new version was recorded.")
            else:
                messages.success(request, f"Saved “{configuration}” as version {version.number}.")
            return redirect("emailconfig:configuration_detail", pk=configuration.pk)
    if request.method == "POST":
        messages.error(request, "Nothing was saved. Correct the fields marked below.")
    return render(
        request,
        "emailconfig/configurations/form.html",
        {
            "section": SECTION,
            "form": form,
            "adding": adding,
            "configuration": configuration,
            "presets": presets_for_script(),
        },
    )


@permission_required("emailconfig.view_emailconfiguration", raise_exception=True)
def configuration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    configuration = get_object_or_404(EmailConfiguration, pk=pk)
    history = list(configuration.versions.select_related("created_by").order_by("-number"))
    current = history[0] if history else None
    older, newer = _versions_to_compare(request, history)
    search = ListSearch(
        request.GET, label="Search apps using it", fields=("app__name", "app__slug")
    )
    applied = queries.applied_with_latest().filter(version__configuration=configuration)
    return render(
        request,
        "emailconfig/configurations/detail.html",
        {
            "section": SECTION,
            "configuration": configuration,
            "current": current,
            "settings": versions.displayed_settings(current) if current else [],
            "history": history,
            "older": older,
            "newer": newer,
            "changes": versions.diff(older, newer) if older and newer else None,
            "stages": [c.stage for c in configuration.coverages.select_related("stage")],
            "search": search,
            **paginate(request, search.filter(applied).order_by("stage__order", "app__name")),
        },
    )


def _versions_to_compare(request: HttpRequest, history: list) -> tuple:
    """The two versions picked in ?from=&to=, defaulting to the last change."""
    by_number = {v.number: v for v in history}
    try:
        older = by_number.get(int(request.GET["from"]))
        newer = by_number.get(int(request.GET["to"]))
    except (KeyError, ValueError):
        older = history[1] if len(history) > 1 else None
        newer = history[0] if history else None
    if older and newer and older.number > newer.number:
        older, newer = newer, older
    return older, newer
