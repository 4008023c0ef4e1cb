"""The home page: each stage, the configuration that covers it, and apps that are behind."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from emailconfig import queries
from emailconfig.models import Stage


@permission_required("emailconfig.view_emailconfiguration", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    latest = queries.latest_versions_by_stage()
    applied = list(queries.applied_with_latest())
    overview = [
        {
            "stage": stage,
            "version": latest.get(stage.pk),
            "apps": sum(a.stage_id == stage.pk for a in applied),
            "behind": [a for a in applied if a.stage_id == stage.pk and a.is_behind],
        }
        for stage in Stage.objects.all()
    ]
    return render(request, "emailconfig/home.html", {"section": "home", "overview": overview})
