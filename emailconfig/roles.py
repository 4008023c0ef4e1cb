"""The two groups an admin hands out: viewers read everything, editors change it."""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps

VIEWERS = "Stagemail viewers"
EDITORS = "Stagemail editors"
SUPERUSER = "superuser"  # not a group, but the role that can do everything


def ensure_groups(*, apps: Any = global_apps, **kwargs: Any) -> None:
    """Create or complete both groups; run after every migrate, so new models are included."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="emailconfig")
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.add(*ours.filter(codename__startswith="view_"))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.add(*ours)
