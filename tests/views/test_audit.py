"""The audit trail's page: who may read it, its filters, and its CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from emailconfig.models import AuditAction, AuditEntry
from emailconfig.views.audit import safe_cell

pytestmark = pytest.mark.django_db

PAGE = reverse("emailconfig:audit")
CSV = reverse("emailconfig:audit_csv")


def _entry(action=AuditAction.STAGE_MOVED, actor="editor", days_old=0, **fields):
    return AuditEntry.objects.create(
        at=timezone.now() - timedelta(days=days_old),
        actor=actor,
        action=action,
        address=fields.pop("address", "198.51.100.4"),
        **fields,
    )


def _targets(client, **filters) -> list[str]:
    response = client.get(PAGE, filters)
    assert response.status_code == 200
    return [e.target for e in response.context["page"].object_list]


def _csv_rows(client, **filters) -> list[list[str]]:
    response = client.get(CSV, filters)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stagemail-audit-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_administrators_read_the_trail(admin_client):
    _entry(target="QA mail")
    page = admin_client.get(PAGE).content.decode()
    assert "QA mail" in page and "198.51.100.4" in page
    assert admin_client.get(CSV).status_code == 200


def test_only_administrators_read_it_and_a_visitor_is_sent_to_sign_in(
    outsider_client, viewer_client, editor_client, client
):
    for refused in (outsider_client, viewer_client, editor_client):
        assert refused.get(PAGE).status_code == 403
        assert refused.get(CSV).status_code == 403
    assert client.get(PAGE).status_code == 302
    assert client.get(CSV).status_code == 302


def test_the_page_shows_the_changes_of_an_edit_line_by_line(admin_client):
    _entry(
        AuditAction.CONFIGURATION_EDITED,
        target="QA mail",
        details={
            "version": 2,
            "changes": [{"field": "Password", "old": "(hidden)", "new": "(hidden, changed)"}],
        },
    )
    page = admin_client.get(PAGE).content.decode()
    assert "Password: (hidden) → (hidden, changed)" in page
    assert "Version: 2" in page


def test_the_filters_narrow_the_list(admin_client):
    _entry(AuditAction.SIGN_IN, actor="ada", target="ada", days_old=10)
    _entry(AuditAction.TOKEN_ISSUED, actor="bob", target="Billing", stage="QA")
    _entry(
        AuditAction.CONFIGURATION_CREATED,
        actor="bob",
        target="Team mail",
        stage="Development, QA, Production",
        details={"version": 1},
        address="192.0.2.77",
    )
    assert _targets(admin_client, actor="ada") == ["ada"]
    assert _targets(admin_client, action="token_issued") == ["Billing"]
    qa = _targets(admin_client, stage="QA")
    assert sorted(qa) == ["Billing", "Team mail"]
    assert _targets(admin_client, stage="Development") == ["Team mail"]
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert sorted(_targets(admin_client, since=since, actor="bob")) == ["Billing", "Team mail"]
    until = (timezone.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    assert _targets(admin_client, until=until) == ["ada"]
    assert _targets(admin_client, q="team") == ["Team mail"]
    assert _targets(admin_client, q="192.0.2.77") == ["Team mail"]


def test_a_wrong_filter_is_explained_on_its_field(admin_client):
    _entry(target="QA mail")
    response = admin_client.get(PAGE, {"since": "yesterday-ish"})
    assert response.context["form"].errors["since"] == ["Enter a valid date/time."]
    assert list(response.context["page"].object_list) == []


def test_the_export_holds_the_filtered_entries(admin_client):
    _entry(AuditAction.TOKEN_ISSUED, target="Billing", stage="QA", details={"prefix": "smk_abc"})
    _entry(AuditAction.SIGN_IN, actor="ada", target="ada")
    header, *rows = _csv_rows(admin_client, action="token_issued")
    assert header == ["time", "who", "address", "action", "target", "stage", "details"]
    [row] = rows
    assert row[1:] == [
        "editor",
        "198.51.100.4",
        "Token issued",
        "Billing",
        "QA",
        '{"prefix": "smk_abc"}',
    ]


def test_the_export_defuses_cells_a_spreadsheet_would_run(admin_client):
    _entry(AuditAction.SIGN_IN_FAILED, actor="", target='=HYPERLINK("https://evil.example")')
    _entry(AuditAction.SIGN_IN_FAILED, actor="", target="+1 555")
    _entry(AuditAction.SIGN_IN_FAILED, actor="", target="@SUM(A1)")
    _entry(AuditAction.SIGN_IN_FAILED, actor="", target="-2")
    targets = [row[4] for row in _csv_rows(admin_client, action="sign_in_failed")[1:]]
    assert sorted(targets) == sorted(
        ['\'=HYPERLINK("https://evil.example")', "'+1 555", "'@SUM(A1)", "'-2"]
    )


def test_a_plain_cell_is_left_alone():
    assert safe_cell("QA mail") == "QA mail"
    assert safe_cell("") == ""
