"""The admin API, /api/v1/admin/: stages, configurations, apps and their tokens, templates
and messages, for administrator tokens scoped to stages and to read or write."""

from __future__ import annotations

from ninja import Router

from emailconfig.api.admin import app_tokens, apps, configurations, messages, stages, templates
from emailconfig.api.admin.scope import AdminBearer

router = Router(auth=AdminBearer())
router.add_router("/stages", stages.router)
router.add_router("/configurations", configurations.router)
router.add_router("/apps", apps.router)
router.add_router("/apps", app_tokens.router)
router.add_router("/templates", templates.router)
router.add_router("/messages", messages.router)
