"""The portal's long lists: paged, searchable (GET q), and in a fixed number of queries."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from emailconfig import pagination
from emailconfig.models import (
    App,
    AppliedConfiguration,
    Message,
    MessageStatus,
    Outcome,
    SinkMessage,
    TestSend,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def configurations():
    """QA mail (two versions, so v1 is behind) and Production mail."""
    qa_mail = factories.configuration("qa", name="QA mail")
    factories.edit(qa_mail, smtp_port=2525)
    production_mail = factories.configuration("production", name="Production mail")
    return qa_mail, production_mail


def grow(n: int, qa_mail, production_mail, *, prefix: str = "App") -> list[App]:
    """n more apps (half of them behind on QA), messages, sink messages and test-sends."""
    start = App.objects.count()
    apps = App.objects.bulk_create(
        App(name=f"{prefix} {i:04}", slug=f"{prefix.lower()}-{i:04}", description=f"Team {i}")
        for i in range(start, start + n)
    )
    v1, v2 = qa_mail.versions.order_by("number")
    production = production_mail.latest_version()
    qa, prod = factories.stage("qa"), factories.stage("production")
    AppliedConfiguration.objects.bulk_create(
        [
            AppliedConfiguration(app=a, stage=qa, version=v1 if i % 2 else v2)
            for i, a in enumerate(apps)
        ]
        + [AppliedConfiguration(app=a, stage=prod, version=production) for a in apps]
    )
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            app=a,
            stage=qa,
            version=v2,
            status=MessageStatus.SENT if i % 3 else MessageStatus.FAILED,
            message_id=f"<{uuid.uuid4()}@example.com>",
            recipients={"to": [{"email": "ada@example.com", "name": ""}]},
            final_recipients=["ada@example.com"],
            subject=f"Invoice {start + i}",
            give_up_at=now,
        )
        for i, a in enumerate(apps)
    )
    SinkMessage.objects.bulk_create(
        SinkMessage(
            mail_from="noreply@example.com",
            rcpt_tos=[f"user{start + i}@example.com"],
            subject=f"Welcome {start + i}",
            raw=b"Subject: x\r\n\r\nx",
        )
        for i in range(n)
    )
    TestSend.objects.bulk_create(
        TestSend(
            version=v2,
            message_id=f"<t{start + i}@example.com>",
            subject=f"Test {start + i}",
            recipients=[f"tester{start + i}@example.com"],
            outcome=Outcome.DELIVERED,
            server_answer="250 OK",
        )
        for i in range(n)
    )
    return apps


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


LIST_PAGES = [
    ("emailconfig:home", {}),
    ("emailconfig:app_list", {}),
    ("emailconfig:app_list", {"q": "app", "behind": "on"}),
    ("emailconfig:configuration_list", {}),
    ("emailconfig:outbox", {}),
    ("emailconfig:outbox", {"q": "invoice", "status": "sent"}),
    ("emailconfig:sink", {"q": "welcome"}),
    ("emailconfig:preview", {"q": "test"}),
]


@pytest.mark.parametrize(("name", "query"), LIST_PAGES)
def test_a_list_page_costs_the_same_queries_for_3_rows_as_for_30(
    editor_client, configurations, name, query
):
    url = f"{reverse(name)}?{urlencode(query)}"
    grow(3, *configurations)
    few = queries_for(editor_client, url)
    grow(27, *configurations)
    assert queries_for(editor_client, url) == few


def test_a_configuration_page_costs_the_same_queries_for_3_apps_as_for_30(
    editor_client, configurations
):
    url = reverse("emailconfig:configuration_detail", args=[configurations[0].pk])
    grow(3, *configurations)
    few = queries_for(editor_client, url)
    grow(27, *configurations)
    assert queries_for(editor_client, url) == few


def test_the_dashboard_and_an_app_page_do_not_query_per_covering_configuration(editor_client):
    factories.configuration("qa")
    factories.app("Billing")
    pages = [reverse("emailconfig:home"), reverse("emailconfig:app_detail", args=["billing"])]
    one = [queries_for(editor_client, url) for url in pages]
    factories.configuration("development")
    factories.configuration("production")
    assert [queries_for(editor_client, url) for url in pages] == one


def test_the_apps_list_shows_fifty_a_page_with_links_that_keep_the_search(
    viewer_client, configurations
):
    grow(60, *configurations)
    grow(5, *configurations, prefix="Other")
    page = viewer_client.get(reverse("emailconfig:app_list"), {"q": "app"}).content.decode()
    assert page.count('class="chip"') == 2 * 50  # QA and Production per app
    assert "1–50 of 60 apps" in page
    assert 'href="?q=app&amp;page=2"' in page
    assert "Other 0060" not in page

    page = viewer_client.get(reverse("emailconfig:app_list"), {"q": "app", "page": 2}).content
    assert "51–60 of 60 apps" in page.decode()
    assert 'aria-current="page">2<' in page.decode()


def test_the_apps_list_searches_slug_and_description_and_filters_apps_behind(
    viewer_client, configurations
):
    grow(4, *configurations)  # apps 1 and 3 are behind on QA
    url = reverse("emailconfig:app_list")
    page = viewer_client.get(url, {"q": "TEAM 2"}).content.decode()
    assert "App 0002" in page and "App 0001" not in page
    page = viewer_client.get(url, {"q": "app-0003"}).content.decode()
    assert "App 0003" in page and "App 0002" not in page
    page = viewer_client.get(url, {"behind": "on"}).content.decode()
    assert "App 0001" in page and "App 0003" in page and "App 0002" not in page
    assert "1 behind" in page
    page = viewer_client.get(url, {"q": "nothing like it"}).content.decode()
    assert "No app matches this search." in page


def test_a_too_long_search_is_refused_on_its_field(viewer_client, configurations):
    grow(2, *configurations)
    page = viewer_client.get(reverse("emailconfig:app_list"), {"q": "x" * 201}).content.decode()
    assert "Ensure this value has at most 200 characters (it has 201)." in page
    assert '<label for="id_q">Search apps (name, slug or description)' in page


def test_a_configuration_page_pages_and_searches_its_apps(viewer_client, configurations):
    grow(60, *configurations)
    url = reverse("emailconfig:configuration_detail", args=[configurations[0].pk])
    page = viewer_client.get(url).content.decode()
    assert "1–50 of 60 apps and stages" in page
    assert page.count("behind: v2 available") == 25
    page = viewer_client.get(url, {"q": "app-0007"}).content.decode()
    assert "App 0007" in page and "App 0008" not in page
    assert "1–1 of 1 apps and stages" in page


def test_the_dashboard_names_ten_apps_behind_per_stage_and_counts_them_all(
    viewer_client, configurations
):
    grow(30, *configurations)
    page = viewer_client.get(reverse("emailconfig:home")).content.decode()
    assert page.count("v1 → v2") == 10
    assert "App 0001" in page and "App 0021" not in page
    assert "15 in all" in page
    assert f'href="{reverse("emailconfig:app_list")}?behind=on"' in page


def test_the_outbox_searches_subjects_addresses_and_message_ids(viewer_client, configurations):
    grow(3, *configurations)
    Message.objects.filter(subject="Invoice 1").update(
        recipients={"cc": [{"email": "bob@example.com", "name": "Bob"}]},
        final_recipients=["qa@example.com"],
    )
    url = reverse("emailconfig:outbox")

    def found(q: str) -> set[str]:
        page = viewer_client.get(url, {"q": q}).content.decode()
        return {s for s in ("Invoice 0", "Invoice 1", "Invoice 2") if f"{s}<" in page}

    assert found("voice 1") == {"Invoice 1"}
    assert found("ada@example.com") == {"Invoice 0", "Invoice 2"}
    assert found("bob@example.com") == found("qa@example.com") == {"Invoice 1"}
    assert found(Message.objects.get(subject="Invoice 2").message_id) == {"Invoice 2"}


def test_the_outbox_finds_an_app_by_its_slug(viewer_client, configurations):
    grow(3, *configurations)
    url = reverse("emailconfig:outbox")
    page = viewer_client.get(url, {"app": "app-0002"}).content.decode()
    assert "Invoice 2" in page and "Invoice 1" not in page
    page = viewer_client.get(url, {"app": "no-such-app"}).content.decode()
    assert "No app has this slug." in page


def test_the_outbox_counts_no_further_than_its_cap(viewer_client, configurations, monkeypatch):
    monkeypatch.setattr(pagination, "PER_PAGE", 2)
    monkeypatch.setattr(pagination.CappedPaginator, "cap", 5)
    grow(8, *configurations)
    url = reverse("emailconfig:outbox")
    page = viewer_client.get(url).content.decode()
    assert "1–2 of more than 5 messages" in page
    page = viewer_client.get(url, {"page": 3}).content.decode()
    assert "narrow the filters" in page
    page = viewer_client.get(url, {"status": "failed"}).content.decode()
    assert "1–2 of 3 messages" in page


def test_the_sink_list_pages_and_searches(viewer_client, configurations):
    grow(55, *configurations)
    url = reverse("emailconfig:sink")
    page = viewer_client.get(url).content.decode()
    assert "1–50 of 55 messages" in page and 'href="?page=2"' in page
    page = viewer_client.get(url, {"q": "user7@"}).content.decode()
    assert "Welcome 7<" in page and "Welcome 8<" not in page


def test_the_preview_page_pages_and_searches_test_sends(editor_client, configurations):
    grow(55, *configurations)
    url = reverse("emailconfig:preview")
    page = editor_client.get(url).content.decode()
    assert "1–50 of 55 test-sends" in page
    page = editor_client.get(url, {"q": "tester3@"}).content.decode()
    assert "tester3@example.com" in page and "tester4@example.com" not in page
