"""The checks views start with, asking emailconfig/access.py.

A stage one may not see answers 404 (it does not exist for them); one they see but may
not change answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from emailconfig.access import Access
from emailconfig.models import EmailConfiguration, Stage

View = Callable[..., HttpResponse]


def access(request: HttpRequest) -> Access:
    return Access.of(request.user)


def allow(condition: bool) -> None:
    if not condition:
        raise PermissionDenied


def _requiring(test: Callable[[Access], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            allow(test(access(request)))
            return view(request, *args, **kwargs)

        return guarded

    return decorator


member_required = _requiring(lambda a: a.is_member)
editor_required = _requiring(lambda a: a.edits_somewhere)
administrator_required = _requiring(lambda a: a.administrator)
templates_editor_required = _requiring(lambda a: a.edits_every_stage)


def seen_stage(request: HttpRequest, slug: str) -> Stage:
    return get_object_or_404(access(request).stages(), slug=slug)


def edited_stage(request: HttpRequest, slug: str) -> Stage:
    stage = seen_stage(request, slug)
    allow(access(request).edits(stage))
    return stage


def seen_configuration(request: HttpRequest, pk: int) -> EmailConfiguration:
    return get_object_or_404(access(request).configurations(), pk=pk)


def edited_configuration(request: HttpRequest, pk: int) -> EmailConfiguration:
    configuration = seen_configuration(request, pk)
    allow(access(request).edits_configuration(configuration))
    return configuration
