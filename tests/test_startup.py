"""The settings and the start-up checks, run as an operator would, in a fresh process."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-secret-key-that-is-long-and-random-9f8e7d6c5b4a",
    "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mail.example.com",
    "DATABASE_URL": "sqlite:////tmp/stagemail-startup-test.sqlite3",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**PRODUCTION_ENV, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_is_clean_for_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_malformed_encryption_key_stops_the_start():
    result = manage("check", STAGEMAIL_ENCRYPTION_KEYS="not-a-fernet-key")
    assert result.returncode != 0
    assert "emailconfig.E002" in result.stderr
    assert "key #1 is not a valid Fernet key" in result.stderr


def test_a_missing_encryption_key_stops_the_wsgi_server():
    code = "import portal.wsgi"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**PRODUCTION_ENV, "STAGEMAIL_ENCRYPTION_KEYS": "", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Stagemail cannot start" in result.stderr
    assert "emailconfig.E001" in result.stderr


def test_a_missing_secret_key_is_reported_by_the_checks_not_a_traceback():
    result = manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "emailconfig.E005" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_boolean_spelling_is_an_error_not_false():
    result = manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_the_sign_in_protection_settings_come_from_the_environment():
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print('limits', s.AXES_FAILURE_LIMIT,"
        " s.AXES_COOLOFF_TIME, s.SESSION_COOKIE_AGE, s.STAGEMAIL_REQUIRE_MFA)",
        STAGEMAIL_SIGNIN_FAILURE_LIMIT="5",
        STAGEMAIL_SIGNIN_LOCKOUT_MINUTES="30",
        STAGEMAIL_IDLE_TIMEOUT_MINUTES="20",
        STAGEMAIL_REQUIRE_MFA="yes",
    )
    assert "limits 5 0:30:00 1200 True" in shown.stdout, shown.stderr
