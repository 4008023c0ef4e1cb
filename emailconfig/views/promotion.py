"""Promote a configuration to the next stage: both side by side, chosen fields carried."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from emailconfig import promotion
from emailconfig.audit import Actor
from emailconfig.forms.promotion import PromotionForm
from emailconfig.views.guards import access, allow, member_required, seen_configuration


@sensitive_post_parameters()
@member_required
def promote(request: HttpRequest, pk: int) -> HttpResponse:
    configuration = seen_configuration(request, pk)
    source = configuration.latest_version()
    here = promotion.source_stage(configuration)
    stage = promotion.next_stage(here) if here else None
    if source is None or stage is None:
        raise Http404("There is no stage after this configuration's to promote it to.")
    allow(access(request).edits(stage))
    target = promotion.target_configuration(stage)
    if target is not None:
        allow(access(request).edits_configuration(target))
    current = target.latest_version() if target else None
    rows = promotion.rows(source, current)
    form = PromotionForm(
        request.POST if request.method == "POST" else None,
        rows=rows,
        initial={"based_on": current.number if current else None},
    )
    form.warn_about([stage])
    problems: list[str] = []
    if form.is_valid():
        promoted = promotion.promote(
            source,
            target,
            stage,
            carried=form.carried(),
            typed=form.typed_secrets(),
            based_on=form.cleaned_data["based_on"],
            confirm_stage=request.POST.get("confirm_stage", ""),
            access=access(request),
            by=Actor.of(request),
        )
        if promoted.ok and promoted.version is not None:
            messages.success(
                request,
                f"Promoted to {stage}: recorded {promoted.version}. Apps on {stage} show as "
                "behind until they re-apply.",
            )
            return redirect(
                "emailconfig:configuration_detail", pk=promoted.version.configuration_id
            )
        if promoted.ok:
            messages.info(request, f"Nothing to carry: {stage} has these settings already.")
            return redirect("emailconfig:configuration_detail", pk=configuration.pk)
        problems = promoted.refused + form.problems(promoted.form)
        messages.error(request, "Nothing was promoted. Correct what is listed below.")
    return render(
        request,
        "emailconfig/configurations/promote.html",
        {
            "section": "configurations",
            "configuration": configuration,
            "source": source,
            "here": here,
            "stage": stage,
            "target": target,
            "current": current,
            "form": form,
            "problems": problems,
        },
    )
