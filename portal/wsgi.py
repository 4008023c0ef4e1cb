"""WSGI entry point; refuses to start when a system check reports an error."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

from emailconfig.checks import fail_on_startup_errors  # noqa: E402  (needs the app registry)

fail_on_startup_errors()
