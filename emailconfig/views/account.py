"""The signed-in user's own account: password, and the authenticator app (second factor)."""

from __future__ import annotations

import io
import math
from typing import Any

import django_otp
import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import PasswordChangeView
from django.contrib.messages.views import SuccessMessageMixin
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from emailconfig import audit, mfa
from emailconfig.audit import Actor
from emailconfig.forms.signin import CodeForm
from emailconfig.middleware import second_factor_not_required
from emailconfig.models import AuditAction

SECTION = "account"


class PasswordChange(SuccessMessageMixin, PasswordChangeView):
    template_name = "emailconfig/account/password_change.html"
    success_url = reverse_lazy("emailconfig:home")
    success_message = "Your password is changed."
    extra_context = {"section": SECTION}

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            audit.record(
                Actor.of(self.request),
                AuditAction.PASSWORD_CHANGED,
                self.request.user.get_username(),
            )
        return response


@never_cache
@sensitive_post_parameters("code")
@second_factor_not_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Shows whether the app is set up; sets it up: scan the code, then confirm one code."""
    user = request.user
    if device := mfa.confirmed_device(user):  # type: ignore[arg-type]
        if not user.is_verified():  # type: ignore[union-attr]
            return redirect("emailconfig:two_factor_verify")
        return render(
            request,
            "emailconfig/account/two_factor.html",
            {"section": SECTION, "device": device},
        )
    pending = mfa.pending_device(user)  # type: ignore[arg-type]
    form = CodeForm(pending, request.POST if request.method == "POST" else None)
    if form.is_valid():
        mfa.confirm(pending, by=Actor.of(request))
        django_otp.login(request, pending)
        messages.success(request, "Your authenticator app is set up: sign-ins now ask for a code.")
        return redirect("emailconfig:home")
    return render(
        request,
        "emailconfig/account/two_factor_setup.html",
        {
            "section": SECTION,
            "form": form,
            "secret": mfa.readable_secret(pending),
            "required": mfa.mfa_required(user),
        },
    )


@never_cache
@second_factor_not_required
def two_factor_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the app being set up, as an image of its own (no inline data)."""
    if mfa.confirmed_device(request.user):  # type: ignore[arg-type]
        raise Http404("The authenticator app is set up already.")
    url = mfa.pending_device(request.user).config_url  # type: ignore[arg-type]
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = io.BytesIO()
    image.save(svg)
    return HttpResponse(svg.getvalue(), content_type="image/svg+xml")


@never_cache
@sensitive_post_parameters("code")
@second_factor_not_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second sign-in step; a wrong code counts as a failed sign-in."""
    user = request.user
    device = mfa.confirmed_device(user)  # type: ignore[arg-type]
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    if device is None or user.is_verified():  # type: ignore[union-attr]
        return redirect(target or "emailconfig:home")
    credentials = {"username": user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        return _locked_out(request, credentials)
    form = CodeForm(device, request.POST if request.method == "POST" else None)
    if form.is_valid():
        django_otp.login(request, device)
        return redirect(target or "emailconfig:home")
    if form.is_bound:
        user_login_failed.send(__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            return _locked_out(request, credentials)
    return render(
        request, "emailconfig/account/two_factor_verify.html", {"form": form, "next": target}
    )


def locked_out(
    request: HttpRequest, response: HttpResponse | None, credentials: dict[str, str] | None
) -> HttpResponse:
    """django-axes' lockout page (AXES_LOCKOUT_CALLABLE): what happened and for how long."""
    minutes = math.ceil(get_cool_off(request).total_seconds() / 60)
    return render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": get_failure_limit(request, credentials),
            "username": get_client_username(request, credentials),
            "lockout": f"{minutes} minute{'' if minutes == 1 else 's'}",
        },
        status=429,
    )


def _locked_out(request: HttpRequest, credentials: dict[str, str]) -> HttpResponse:
    """Signs the half-signed-in user out; django-axes' middleware shows the lockout page."""
    logout(request)
    request.axes_locked_out = True  # type: ignore[attr-defined]
    request.axes_credentials = credentials  # type: ignore[attr-defined]
    return HttpResponse(status=429)
