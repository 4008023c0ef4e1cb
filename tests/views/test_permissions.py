"""Every page requires login; every page and action checks view vs change on the server."""

import pytest
from django.test import Client
from django.urls import reverse

from emailconfig.models import (
    ApiToken,
    AppliedConfiguration,
    EmailConfiguration,
    EmailTemplate,
    SinkMessage,
    Stage,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    config = factories.configuration("qa", name="QA mail")
    app = factories.app("Billing")
    template = EmailTemplate.objects.create(key="hello", name="Hello", subject="Hi", text_body="x")
    received = SinkMessage.objects.create(
        mail_from="a@example.com",
        rcpt_tos=["b@example.com"],
        subject="Hi",
        raw=b'Subject: Hi\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/html\r\n\r\n<p>Hi</p>\r\n--b\r\n"
        b'Content-Disposition: attachment; filename="a.txt"\r\n\r\nA\r\n--b--\r\n',
    )
    return {
        "config": config,
        "app": app,
        "version": config.latest_version(),
        "template": template,
        "received": received.pk,
    }


def read_urls(world):
    return [
        reverse("emailconfig:home"),
        reverse("emailconfig:configuration_list"),
        reverse("emailconfig:configuration_detail", args=[world["config"].pk]),
        reverse("emailconfig:app_list"),
        reverse("emailconfig:app_detail", args=["billing"]),
        reverse("emailconfig:stage_list"),
        reverse("emailconfig:template_list"),
        reverse("emailconfig:preview"),
        reverse("emailconfig:outbox"),
        reverse("emailconfig:token_list", args=["billing", "qa"]),
        reverse("emailconfig:sink"),
        reverse("emailconfig:sink_message", args=[world["received"]]),
        reverse("emailconfig:sink_html", args=[world["received"]]),
        reverse("emailconfig:sink_raw", args=[world["received"]]),
        reverse("emailconfig:sink_attachment", args=[world["received"], 1]),
    ]


def write_urls(world):
    """(url, POST data) for every action that changes something."""
    return [
        (reverse("emailconfig:configuration_create"), {"name": "x"}),
        (reverse("emailconfig:configuration_edit", args=[world["config"].pk]), {"name": "x"}),
        (reverse("emailconfig:app_create"), {"name": "New app"}),
        (reverse("emailconfig:app_edit", args=["billing"]), {"name": "Renamed"}),
        (
            reverse("emailconfig:apply", args=["billing", "qa"]),
            {"version": world["version"].pk},
        ),
        (reverse("emailconfig:stage_create"), {"name": "Staging"}),
        (reverse("emailconfig:stage_edit", args=["qa"]), {"name": "Renamed"}),
        (reverse("emailconfig:stage_move", args=["qa"]), {"direction": "up"}),
        (reverse("emailconfig:stage_delete", args=["production"]), {}),
        (reverse("emailconfig:template_create"), {"key": "x"}),
        (reverse("emailconfig:template_edit", args=["hello"]), {"key": "x"}),
        (reverse("emailconfig:connection_test", args=[world["config"].pk]), {}),
        (reverse("emailconfig:token_issue", args=["billing", "qa"]), {}),
        (
            reverse("emailconfig:rate_limit", args=["billing", "qa"]),
            {"rate_limit_per_minute": "1"},
        ),
        (reverse("emailconfig:sink_delete", args=[world["received"]]), {}),
        (reverse("emailconfig:sink_delete_all"), {}),
    ]


def _snapshot():
    return (
        list(EmailConfiguration.objects.values_list("name", flat=True)),
        list(Stage.objects.values_list("name", "order")),
        AppliedConfiguration.objects.count(),
        list(EmailTemplate.objects.values_list("key", "subject")),
        ApiToken.objects.count(),
        list(AppliedConfiguration.objects.values_list("rate_limit_per_minute", flat=True)),
        SinkMessage.objects.count(),
    )


def test_an_anonymous_visitor_is_sent_to_sign_in(world):
    client = Client()
    for url in read_urls(world) + [url for url, _ in write_urls(world)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_a_viewer_reads_every_page(viewer_client, world):
    for url in read_urls(world):
        assert viewer_client.get(url).status_code == 200, url


def test_a_viewer_cannot_change_anything_by_page_or_direct_post(viewer_client, world):
    before = _snapshot()
    for url, data in write_urls(world):
        assert viewer_client.get(url).status_code in (403, 405), url
        assert viewer_client.post(url, data).status_code == 403, url
    assert _snapshot() == before


def test_a_viewer_sees_no_edit_controls(viewer_client, world):
    pages = "".join(
        response.content.decode()
        for response in map(viewer_client.get, read_urls(world))
        if not response.streaming  # downloads
    )
    for control in (
        "New configuration",
        "Register an app",
        "Add a stage",
        "/edit/",
        "/apply/",
        "/move/",
        "/delete/",
    ):
        assert control not in pages


def test_an_outsider_can_sign_in_but_sees_nothing(outsider_client, world):
    for url in read_urls(world):
        assert outsider_client.get(url).status_code == 403, url
    for url, data in write_urls(world):
        assert outsider_client.post(url, data).status_code == 403, url


def test_an_editor_opens_every_page_and_form(editor_client, world):
    for url in read_urls(world):
        assert editor_client.get(url).status_code == 200, url
    for url, _ in write_urls(world):
        post_only = ("/move/", "/test-connection/", "/tokens/new/", "/rate-limit/")
        if not url.endswith(post_only):
            assert editor_client.get(url).status_code == 200, url
