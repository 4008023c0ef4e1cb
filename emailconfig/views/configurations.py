"""Email configuration pages: list, create, edit (and try unsaved values), detail with history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from emailconfig import promotion, queries, versions
from emailconfig.audit import Actor
from emailconfig.delivery import Address
from emailconfig.forms.configurations import ConfigurationForm, RestoreForm
from emailconfig.forms.lists import ListSearch
from emailconfig.models import EmailConfiguration, Stage
from emailconfig.pagination import paginate
from emailconfig.presets import presets_for_script
from emailconfig.services import configurations as services
from emailconfig.services import connection_tests, previews
from emailconfig.views.guards import (
    access,
    allow,
    edited_configuration,
    editor_required,
    member_required,
    seen_configuration,
)

SECTION = "configurations"


@member_required
def configuration_list(request: HttpRequest) -> HttpResponse:
    seen = queries.configurations_with_usage(access(request))
    return render(
        request,
        "emailconfig/configurations/list.html",
        {"section": SECTION, "configurations": seen},
    )


@sensitive_post_parameters()
@editor_required
def configuration_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, EmailConfiguration())


@sensitive_post_parameters()
@member_required
def configuration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, edited_configuration(request, pk))


def _edit(request: HttpRequest, configuration: EmailConfiguration) -> HttpResponse:
    form = ConfigurationForm(
        request.POST if request.method == "POST" else None,
        instance=configuration,
        access=access(request),
    )
    if request.method == "POST" and form.is_valid():
        version = form.save_version(author=Actor.of(request))
        if not form.errors:
            if version is None:
                messages.info(request, "Nothing changed, so no new version was recorded.")
            else:
                messages.success(request, f"Saved “{configuration}” as version {version.number}.")
            for removal in form.removed:
                messages.warning(request, removal)
            return redirect("emailconfig:configuration_detail", pk=configuration.pk)
    if request.method == "POST":
        messages.error(request, "Nothing was saved. Correct the fields marked below.")
    return _form_page(request, form, configuration)


def _form_page(
    request: HttpRequest, form: ConfigurationForm, configuration: EmailConfiguration, **extra: Any
) -> HttpResponse:
    return render(
        request,
        "emailconfig/configurations/form.html",
        {
            "section": SECTION,
            "form": form,
            "adding": configuration._state.adding,
            "configuration": configuration,
            "presets": presets_for_script(),
            **extra,
        },
    )


# Trying the form's unsaved values: the same validation, nothing saved -----------------


def _trial_form(
    request: HttpRequest, pk: int | None, *, sends: bool
) -> tuple[EmailConfiguration, ConfigurationForm, bool]:
    """The posted form for the configuration being created or edited, and whether it is valid.

    A trial that `sends` a message through production asks for the stage's name, as saving does.
    """
    if pk is None:
        allow(access(request).edits_somewhere)
        configuration = EmailConfiguration()
    else:
        configuration = edited_configuration(request, pk)
    form = ConfigurationForm(
        request.POST, instance=configuration, access=access(request), confirming=sends
    )
    valid = form.is_valid()  # the test list included
    if not valid:
        messages.error(request, "Nothing was tried. Correct the fields marked below.")
    for label in form.typed_secrets():
        # A secret input is never filled back in, so Save would keep the stored one.
        messages.warning(
            request,
            f"The {label} you typed was used for this trial only and is not kept: "
            "type it again before saving.",
        )
    return configuration, form, valid


@require_POST
@sensitive_post_parameters()
@member_required
def try_connection(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    configuration, form, valid = _trial_form(request, pk, sends=False)
    if not valid:
        return _form_page(request, form, configuration)
    try:
        steps = connection_tests.test_connection(form.unsaved_settings(), user=Actor.of(request))
    except ValidationError as exc:  # the per-minute limit
        messages.error(request, exc.messages[0])
        return _form_page(request, form, configuration)
    return _form_page(request, form, configuration, steps=steps, ok=all(step.ok for step in steps))


@require_POST
@sensitive_post_parameters()
@member_required
def try_send(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    configuration, form, valid = _trial_form(request, pk, sends=True)
    if not valid:
        return _form_page(request, form, configuration)
    user = request.user
    if not user.email:
        messages.error(request, "Your account has no email address to send the test to.")
        return _form_page(request, form, configuration)
    try:
        trial = previews.build_trial(
            form.unsaved_settings(), Address(user.email, user.get_full_name())
        )
        sent = previews.test_send(trial, user=Actor.of(request), template=None)
    except previews.PreviewError as error:
        sent, problem = None, error.message
    except ValidationError as exc:  # the hourly limit
        sent, problem = None, exc.messages[0]
    if sent is None:
        messages.error(request, problem)
    return _form_page(request, form, configuration, sent=sent)


@member_required
def configuration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    configuration = seen_configuration(request, pk)
    history = list(configuration.versions.select_related("created_by").order_by("-number"))
    current = history[0] if history else None
    older, newer = _versions_to_compare(request, history)
    search = ListSearch(
        request.GET, label="Search apps using it", fields=("app__name", "app__slug")
    )
    applied = queries.applied_with_latest().filter(
        version__configuration=configuration, stage__in=access(request).stages()
    )
    return render(
        request,
        "emailconfig/configurations/detail.html",
        {
            "section": SECTION,
            "configuration": configuration,
            "can_edit": access(request).edits_configuration(configuration),
            "promote_to": _promotion_target(request, configuration),
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


@member_required
def configuration_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """GET shows what making version `number` current changes; POST records it as new."""
    configuration = edited_configuration(request, pk)
    version = get_object_or_404(configuration.versions, number=number)
    current = configuration.latest_version()
    form = RestoreForm(
        request.POST if request.method == "POST" else None,
        configuration=configuration,
        initial={"based_on": current.number},
    )
    if form.is_valid():
        try:
            restored = services.restore_version(
                configuration, version, by=Actor.of(request), based_on=form.cleaned_data["based_on"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if restored is None:
                messages.info(request, f"Version {number} is what is current already.")
            else:
                messages.success(
                    request,
                    f"Recorded version {restored.number}, equal to version {number}. Apps show "
                    "as behind until they re-apply.",
                )
        return redirect("emailconfig:configuration_detail", pk=configuration.pk)
    return render(
        request,
        "emailconfig/configurations/restore_confirm.html",
        {
            "section": SECTION,
            "configuration": configuration,
            "version": version,
            "current": current,
            "changes": versions.diff(current, versions.as_restored(current, version)),
            "form": form,
        },
    )


def _promotion_target(request: HttpRequest, configuration: EmailConfiguration) -> Stage | None:
    """The next stage up, if one may promote this configuration to it."""
    here = promotion.source_stage(configuration)
    stage = promotion.next_stage(here) if here else None
    return stage if stage and access(request).edits(stage) else None


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
