"""The import page: upload, see what will be created (secrets never shown), then create."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emailconfig.models import AuditAction, AuditEntry, EmailConfiguration
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("emailconfig:codestream_import")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codestream"


def _upload(client, name: str, stage: str, text: bytes | None = None):
    content = text if text is not None else (FIXTURES / name).read_bytes()
    return client.post(
        URL,
        {
            "file": SimpleUploadedFile(name, content, "application/json"),
            "stage": factories.stage(stage).pk,
        },
    )


def test_the_plan_shows_what_will_be_created_then_create_saves_it(editor_client):
    page = _upload(editor_client, "sendgrid.json", "qa").content.decode()
    assert "Create CodeStream (QA)?" in page
    assert "qa-inbox@example.com" in page and "SendGrid" in page
    assert "SG.example-key" not in page  # the secret is neither shown nor sent back
    assert not EmailConfiguration.objects.exists()

    response = editor_client.post(URL, {"create": "1"})
    config = EmailConfiguration.objects.get(name="CodeStream (QA)")
    assert response.url == reverse("emailconfig:configuration_detail", args=[config.pk])
    assert config.latest_version().secrets["api_key"].reveal() == "SG.example-key"
    entry = AuditEntry.objects.get(action=AuditAction.CONFIGURATION_CREATED)
    assert entry.actor == "editor"
    assert editor_client.post(URL, {"create": "1"}).url == URL  # nothing waits any more


def test_problems_are_listed_with_their_paths_and_nothing_can_be_created(editor_client):
    broken = b'{"emailDeliveryService": {"NodeMailer": {"host": "h.example.com", "port": "x"}}}'
    page = _upload(editor_client, "broken.json", "qa", broken).content.decode()
    assert "This file cannot be imported yet" in page
    assert "emailDeliveryService.NodeMailer.port: &quot;x&quot; is not a port." in page
    assert "Create configuration" not in page
    assert not EmailConfiguration.objects.exists()


def test_production_asks_for_the_stage_name_before_creating(editor_client):
    page = _upload(editor_client, "sendgrid.json", "production").content.decode()
    assert "Type the stage's name" in page
    refused = editor_client.post(URL, {"create": "1"}).content.decode()
    assert "This touches production" in refused
    assert not EmailConfiguration.objects.exists()
    editor_client.post(URL, {"create": "1", "confirm_stage": "Production"})
    assert EmailConfiguration.objects.get().coverages.get().stage.slug == "production"


def test_only_stages_one_may_edit_are_offered(viewer_client, editor_client):
    assert viewer_client.get(URL).status_code == 403
    page = editor_client.get(URL).content.decode()
    assert "Production" in page  # the editor fixture is a production editor too


def test_a_file_that_is_not_text_is_an_error_on_the_field(editor_client):
    page = _upload(editor_client, "x.json", "qa", b"\xff\xfe\x00bad").content.decode()
    assert "This file is not UTF-8 text." in page


def test_a_file_far_larger_than_a_codestream_config_is_refused_unread(editor_client):
    page = _upload(editor_client, "big.json", "qa", b"{" + b" " * 70_000 + b"}").content.decode()
    assert "a CodeStream config file is far smaller" in page
