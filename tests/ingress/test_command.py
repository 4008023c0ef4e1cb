"""`manage.py run_smtp_ingress`: what it refuses to start with, and a clean stop."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_it_needs_an_address(settings):
    settings.STAGEMAIL_SMTP_INGRESS = ""
    with pytest.raises(CommandError, match="Set STAGEMAIL_SMTP_INGRESS"):
        call_command("run_smtp_ingress")


def test_without_a_certificate_it_refuses_anything_but_loopback(settings):
    settings.STAGEMAIL_SMTP_INGRESS = "0.0.0.0:587"
    with pytest.raises(CommandError, match="listens on loopback only"):
        call_command("run_smtp_ingress")


def test_a_certificate_without_its_key_is_refused(settings, certificates):
    settings.STAGEMAIL_SMTP_INGRESS_CERT = str(certificates.localhost[0])
    with pytest.raises(CommandError, match="Give both"):
        call_command("run_smtp_ingress", listen="127.0.0.1:1587")


@pytest.mark.parametrize("processes", [1, 2])
def test_it_answers_and_stops_on_sigterm(processes):
    port = free_port()
    command = [sys.executable, "manage.py", "run_smtp_ingress", "--listen", f"127.0.0.1:{port}"]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        [*command, "--processes", str(processes)], cwd=ROOT, env=environment,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.ehlo()
                    assert client.has_extn("auth")  # loopback: AUTH without TLS
                    assert client.docmd("MAIL", "FROM:<a@example.com>")[0] == 530  # sign in first
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        else:
            pytest.fail("the ingress did not start")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"SMTP submission listening on 127.0.0.1:{port}" in output
