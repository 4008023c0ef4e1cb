"""The portal's Content-Security-Policy: strict on every page, inline code nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# What the policy refuses in a template: inline scripts, style blocks and attributes, and
# event-handler attributes (onclick=...).
INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_the_sign_in_page_answers_with_the_strict_policy():
    response = Client().get(reverse("login"))
    assert response["Content-Security-Policy"] == PAGE_POLICY


@pytest.mark.parametrize(
    "path",
    ["/", "/outbox/", "/preview/", "/no-such-page/", "/admin/", "/admin/auth/user/add/"],
)
def test_every_page_answers_with_the_same_policy(admin_client, path):
    assert admin_client.get(path)["Content-Security-Policy"] == PAGE_POLICY


def test_no_template_holds_inline_script_style_or_event_handlers():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group().strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in INLINE_CODE.finditer(path.read_text())
    ]
    assert found == []
