"""The second sign-in step: no page until the authenticator code is given (or set up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from emailconfig import mfa


def second_factor_not_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks the views a signed-in user reaches before giving a code: the steps, sign-out."""
    view.second_factor_not_required = True  # type: ignore[attr-defined]
    return view


class SecondFactorMiddleware:
    """Sends a signed-in but unverified user to the code page if they have a device, or to
    setting one up if their role requires it. Runs after django-otp's OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[union-attr]
            return None
        if getattr(view, "second_factor_not_required", False):
            return None
        if getattr(view, "login_required", True) is False:  # the API: bearer tokens
            return None
        if mfa.confirmed_device(user):  # type: ignore[arg-type]
            then = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('emailconfig:two_factor_verify')}?{then}")
        if mfa.mfa_required(user):
            return redirect("emailconfig:two_factor_setup")
        return None
