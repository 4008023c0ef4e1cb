"""People and their roles: who may do what on which stage. Administrators only."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from emailconfig import crypto
from emailconfig.audit import Actor
from emailconfig.forms.lists import ListSearch
from emailconfig.forms.people import PersonForm, RolesForm
from emailconfig.models import Stage, StageGrant
from emailconfig.pagination import paginate
from emailconfig.services import roles
from emailconfig.views.guards import administrator_required

SECTION = "people"

# Session key holding a new person's generated password, encrypted like every stored secret,
# until their roles page shows it, once.
NEW_PASSWORD = "stagemail_new_password"  # noqa: S105  (a key name, not a secret)


@administrator_required
def people(request: HttpRequest) -> HttpResponse:
    stages = list(Stage.objects.order_by("order", "name"))
    search = ListSearch(
        request.GET,
        label="Search people (username, name or email)",
        fields=("username", "first_name", "last_name", "email"),
    )
    everyone = get_user_model().objects.prefetch_related(
        Prefetch("stage_grants", queryset=StageGrant.objects.only("user_id", "stage_id", "role"))
    )
    listing = paginate(request, search.filter(everyone).order_by("username"))
    for person in listing["page"].object_list:
        held = {grant.stage_id: grant for grant in person.stage_grants.all()}
        person.stage_roles = [held.get(stage.pk) for stage in stages]
    return render(
        request,
        "emailconfig/people/list.html",
        {"section": SECTION, "stages": stages, "search": search, **listing},
    )


@administrator_required
def person_add(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        password = roles.add_person(form.instance, by=Actor.of(request))
        person = form.instance
        request.session[NEW_PASSWORD] = {"user": person.pk, "password": crypto.encrypt(password)}
        messages.success(request, f"Added {person.get_username()}. Now grant their roles.")
        return redirect("emailconfig:person_roles", pk=person.pk)
    return render(request, "emailconfig/people/add.html", {"section": SECTION, "form": form})


@never_cache  # the page may show a new password once; no cache may keep it
@administrator_required
def person_roles(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    form = RolesForm(
        request.POST if request.method == "POST" else None,
        user=person,
        stages=list(Stage.objects.order_by("order", "name")),
    )
    if form.is_valid():
        try:
            changed = roles.set_roles(
                person,
                administrator=form.cleaned_data["administrator"],
                stage_roles=form.stage_roles(),
                active=form.cleaned_data["active"],
                by=Actor.of(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if changed:
                messages.success(request, f"Saved the roles of {person.get_username()}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("emailconfig:people")
    if request.method == "POST" and form.errors:
        messages.error(request, "Nothing was saved. Correct the fields marked below.")
    # Taken out of the session whichever page asks, so the plaintext does not linger there.
    added = request.session.pop(NEW_PASSWORD, None)
    shown_here = added and added["user"] == person.pk
    return render(
        request,
        "emailconfig/people/roles.html",
        {
            "section": SECTION,
            "person": person,
            "form": form,
            "require_mfa": settings.STAGEMAIL_REQUIRE_MFA,
            "new_password": crypto.decrypt(added["password"]) if shown_here else "",
        },
    )
