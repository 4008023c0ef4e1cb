"""Preview a template through a configuration, then test-send it; and the connection test."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_POST

from emailconfig.audit import Actor
from emailconfig.delivery import DeliverySettings
from emailconfig.forms.lists import ListSearch
from emailconfig.forms.templates import PreviewForm
from emailconfig.models import EmailTemplate, TestSend
from emailconfig.pagination import paginate
from emailconfig.services import connection_tests, previews
from emailconfig.views.framed import html_part
from emailconfig.views.guards import access, edited_configuration, member_required

SECTION = "preview"
TEST_SEND_SHOWN = (
    "sent_at",
    "recipients",
    "outcome",
    "server_answer",
    "version__name",
    "version__number",
    "template__key",
    "sent_by__username",
)
TEST_SENDS_SEARCHED = ("subject", "recipients", "server_answer")  # no join to count
# The HTML parts of a session's latest previews, for their frames to load: a few, so
# several tabs each keep theirs.
SHOWN_HTML = "preview_html"
SHOWN_HTML_KEPT = 3


@member_required
def preview(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = request.POST.copy()
        _fill_sample_data(data)
        form = PreviewForm(data, user=request.user, access=access(request))
    else:  # links may preselect a configuration and a template
        initial = request.GET.dict()
        _fill_sample_data(initial)
        form = PreviewForm(initial=initial, user=request.user, access=access(request))
    built = sent = None
    if form.is_bound and form.is_valid():
        built = _build(form, sealed=request.POST.get("composed", ""))
    if built and request.method == "POST" and "send" in request.POST:
        sent = _send(request, form, built)
    search = ListSearch(
        request.GET,
        label="Search test-sends (subject, recipient or server answer)",
        fields=TEST_SENDS_SEARCHED,
    )
    test_sends = (
        _test_sends_seen(request)
        .select_related("version", "sent_by", "template")
        .only(*TEST_SEND_SHOWN)
    )
    return render(
        request,
        "emailconfig/preview.html",
        {
            "section": SECTION,
            "form": form,
            "preview": built,
            "html_key": _keep_html(request, built.shown.html) if built else "",
            "sent": sent,
            "can_send": access(request).edits_somewhere,
            "search": search,
            **paginate(request, search.filter(test_sends).order_by("-sent_at")),
        },
    )


def _test_sends_seen(request: HttpRequest) -> Any:
    """Through configurations one sees, and one's own trials of unsaved settings."""
    seen = access(request)
    every = TestSend.objects.all()
    if seen.administrator:
        return every
    return every.filter(
        Q(version__configuration__in=seen.configurations()) | Q(version=None, sent_by=request.user)
    )


def _keep_html(request: HttpRequest, html: str) -> str:
    if not html:
        return ""
    key = hashlib.sha256(html.encode()).hexdigest()[:32]
    kept = {k: v for k, v in request.session.get(SHOWN_HTML, {}).items() if k != key}
    kept[key] = html
    request.session[SHOWN_HTML] = dict(list(kept.items())[-SHOWN_HTML_KEPT:])
    return key


@member_required
def preview_html(request: HttpRequest, key: str) -> HttpResponse:
    """A preview's HTML part, for the preview page's sandboxed frame."""
    html = request.session.get(SHOWN_HTML, {}).get(key)
    if html is None:
        raise Http404("This preview is gone; press Preview again.")
    return html_part(html)


def _fill_sample_data(data: QueryDict | dict[str, str]) -> None:
    """Blank sample data means the template's own, shown in the form to edit."""
    key = data.get("template", "")
    if data.get("sample_data") or not (key.isascii() and key.isdecimal()):
        return
    template = EmailTemplate.objects.filter(pk=key).first()
    if template is not None:
        data["sample_data"] = json.dumps(template.sample_data, indent=2, ensure_ascii=False)


def _build(form: PreviewForm, *, sealed: str) -> previews.Preview | None:
    data = form.cleaned_data
    try:
        return previews.build_preview(
            data["configuration"],
            data["template"],
            data["sample_data"],
            data["send_to"],
            sealed=sealed,
        )
    except previews.PreviewError as error:
        form.add_error(error.field, error.message)
        return None


def _send(request: HttpRequest, form: PreviewForm, built: previews.Preview) -> TestSend | None:
    configuration = form.cleaned_data["configuration"]
    if not access(request).edits_configuration(configuration):
        messages.error(
            request,
            f"You may preview through “{configuration}”, but not send tests through it: "
            "that takes edit rights on every stage it covers.",
        )
        return None
    try:
        return previews.test_send(
            built, user=Actor.of(request), template=form.cleaned_data["template"]
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return None


@require_POST
@member_required
def connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    configuration = edited_configuration(request, pk)
    version = configuration.latest_version()
    steps = []
    if version is not None:
        try:
            steps = connection_tests.test_connection(
                DeliverySettings.from_version(version), user=Actor.of(request)
            )
        except ValidationError as exc:  # the per-minute limit
            messages.error(request, exc.messages[0])
    return render(
        request,
        "emailconfig/configurations/connection_test.html",
        {
            "section": "configurations",
            "configuration": configuration,
            "version": version,
            "steps": steps,
            "ok": bool(steps) and all(step.ok for step in steps),
        },
    )
