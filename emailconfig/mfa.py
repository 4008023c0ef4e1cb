"""Second factor: who must have one, and the authenticator-app device of a user."""

from __future__ import annotations

from base64 import b32encode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from emailconfig import audit
from emailconfig.access import Access
from emailconfig.audit import Who
from emailconfig.models import AuditAction, StageRole

DEVICE_NAME = "Authenticator app"


def mfa_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user may not use the portal without a second factor: with
    STAGEMAIL_REQUIRE_MFA, administrators and production editors."""
    if not settings.STAGEMAIL_REQUIRE_MFA:
        return False
    access = Access.of(user)
    return access.administrator or StageRole.PRODUCTION_EDITOR in access.roles.values()


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user: AbstractBaseUser) -> TOTPDevice:
    """The device being set up: its secret stays the same until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def confirm(device: TOTPDevice, *, by: Who) -> None:
    """The device gave a right code: from now on sign-ins ask it for one."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(by, AuditAction.SECOND_FACTOR_SET_UP, device.user.get_username())


def readable_secret(device: TOTPDevice) -> str:
    """The key as an app asks for it when typed in: base32, in groups of four."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
