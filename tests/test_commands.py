import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_first_admin_is_created_once_and_its_password_printed_once(capsys):
    call_command("create_first_admin")
    first = capsys.readouterr().out
    call_command("create_first_admin")
    second = capsys.readouterr().out

    password = first.split("password: ")[1].split()[0]
    assert len(password) >= 20
    assert password not in second
    assert "already exists" in second
    assert "Sign in as admin with the password above." in first
    assert "no password is shown" in second and "above" not in second
    assert get_user_model().objects.filter(is_superuser=True).count() == 1

    client = Client()  # through the sign-in page, past the lockout and second-factor checks
    response = client.post(reverse("login"), {"username": "admin", "password": password})
    assert response.status_code == 302
    assert "QA" in client.get("/").content.decode()


def test_generate_encryption_key_prints_a_usable_key(capsys, settings):
    call_command("generate_encryption_key")
    key = capsys.readouterr().out.strip()
    settings.STAGEMAIL_ENCRYPTION_KEYS = [key]
    from emailconfig import crypto

    assert crypto.decrypt(crypto.encrypt("ok")) == "ok"


def test_make_run_leaves_the_sign_in_sentence_to_the_command_that_knows():
    """Only create_first_admin knows whether it printed a password to point 'above' at."""
    root = Path(__file__).resolve().parent.parent
    planned = subprocess.run(
        ["make", "--dry-run", "--always-make", "run"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    echoed = [line for line in planned.splitlines() if line.startswith("echo")]
    assert echoed and not [line for line in echoed if "above" in line or "sign in" in line]
