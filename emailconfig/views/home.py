"""The dashboard: per stage, deliveries over 14 days, the queue, and apps behind."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from emailconfig import dashboard, queries


@permission_required("emailconfig.view_emailconfiguration", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    latest = queries.latest_versions_by_stage()
    behind = [a for a in queries.applied_with_latest() if a.is_behind]
    stages = [
        {
            "activity": activity,
            "version": latest.get(activity.stage.pk),
            "behind": [a for a in behind if a.stage_id == activity.stage.pk],
        }
        for activity in dashboard.activity()
    ]
    return render(
        request,
        "emailconfig/home.html",
        {
            "section": "home",
            "stages": stages,
            "chart": {"width": dashboard.CHART_WIDTH, "height": dashboard.CHART_HEIGHT},
            "days": dashboard.DAYS,
        },
    )
