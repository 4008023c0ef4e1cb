"""The dashboard: per stage, deliveries over 14 days, the queue, and apps behind."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from emailconfig import dashboard, queries
from emailconfig.views.guards import access, member_required

BEHIND_SHOWN = 10  # apps named per stage; the apps list has them all


@member_required
def home(request: HttpRequest) -> HttpResponse:
    latest = queries.latest_versions_by_stage()
    behind = queries.behind_by_stage(first=BEHIND_SHOWN)
    stages = [
        {
            "activity": activity,
            "version": latest.get(activity.stage.pk),
            "behind_total": behind.get(activity.stage.pk, (0, []))[0],
            "behind": behind.get(activity.stage.pk, (0, []))[1],
        }
        for activity in dashboard.activity(access(request).stages())
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
