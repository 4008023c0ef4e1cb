"""The address a request comes from, for counting failed sign-ins (AXES_CLIENT_IP_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind STAGEMAIL_TRUSTED_PROXY_COUNT proxies the address the farthest
    of them received the request from: each proxy appends its peer to X-Forwarded-For, so
    entries left of those are whatever the client sent and cannot be trusted."""
    proxies = settings.STAGEMAIL_TRUSTED_PROXY_COUNT
    forwarded = [
        address.strip()
        for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if address.strip()
    ]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
