"""A real production start: collectstatic, gunicorn with DEBUG=0, and the pages styled.

Nothing here uses Django's test server: gunicorn serves the portal from a temporary SQLite
database, and whitenoise serves the collected, hashed and compressed static files.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.browser.conftest import BROWSER_TEST, sign_in
from tests.servers import free_port

pytestmark = BROWSER_TEST

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = secrets.token_urlsafe(16)
HASHED_CSS = re.compile(r"/static/css/stagemail\.[0-9a-f]{12}\.css$")


def _production_env(folder: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{folder / 'stagemail.sqlite3'}",
        "STATIC_ROOT": str(folder / "static"),
        # Plain HTTP on loopback: no redirect to HTTPS, cookies allowed without it.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
    }


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    env = _production_env(tmp_path)
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    admin = {"DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    _manage(
        env | admin,
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to about 30 s for the first answer
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=1)  # noqa: S310
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_pages_are_styled_under_gunicorn_with_debug_off(browser, gunicorn):
    context = browser.new_context(base_url=gunicorn)
    page = context.new_page()
    try:
        sign_in(page, "admin", PASSWORD)
        page_response = page.goto("/stages/")
        # The hashed stylesheet is the portal's own file, which the policy allows (and the
        # csp fixture fails the test on any violation).
        assert "style-src 'self';" in page_response.headers["content-security-policy"]
        stylesheet = page.locator('link[rel="stylesheet"]').get_attribute("href")
        assert HASHED_CSS.search(stylesheet), stylesheet

        body = page.evaluate(
            "() => { const s = getComputedStyle(document.body);"
            " return [s.marginTop, s.backgroundColor]; }"
        )
        assert body == ["0px", "rgb(245, 247, 250)"]  # a browser's own: 8px, transparent

        css = page.request.get(stylesheet, headers={"Accept-Encoding": "gzip"})
        assert css.ok and css.headers["content-type"].startswith("text/css")
        assert "max-age=315360000" in css.headers["cache-control"]  # hashed: cached for years
        assert "immutable" in css.headers["cache-control"]
        assert css.headers.get("content-encoding") == "gzip"
    finally:
        context.close()
