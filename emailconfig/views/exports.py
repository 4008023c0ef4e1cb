"""A configuration version exported for Django's MAILERS or CodeStream, as a download."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from emailconfig import exports
from emailconfig.models import ConfigurationVersion
from emailconfig.views.guards import member_required, seen_configuration

FORMATS: dict[str, tuple[Callable[[ConfigurationVersion], str], str, str]] = {
    "django.py": (
        lambda v: exports.as_python(exports.django_mailers(v)),
        "text/x-python",
        "mailers.py",
    ),
    "django.json": (
        lambda v: exports.as_json(exports.django_mailers(v)),
        "application/json",
        "mailers.json",
    ),
    "codestream.json": (
        lambda v: exports.as_json(exports.codestream_block(v)),
        "application/json",
        "codestream-email.json",
    ),
}


@member_required
def version_export(request: HttpRequest, pk: int, number: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("No such export format.")
    configuration = seen_configuration(request, pk)
    version = get_object_or_404(configuration.versions, number=number)
    write, content_type, filename = FORMATS[fmt]
    response = HttpResponse(write(version), content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{configuration.pk}-v{number}-{filename}"'
    )
    return response
