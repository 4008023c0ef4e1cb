"""The local sink: a received message opened as Mailpit does, downloads, deleting."""

import smtplib
import time
from email import policy
from email.message import EmailMessage

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from emailconfig.management.commands.run_dev_sink import SinkHandler
from emailconfig.models import SinkMessage
from tests.servers import smtp_server
from tests.test_received import MALFORMED

pytestmark = pytest.mark.django_db

SCRIPTED_HTML = (
    '<p id="hello">Hello <b>Ada</b></p><script>parent.document.title = "owned"</script>'
    '<img src="https://tracker.example/pixel.gif">'
)


def _mail() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Stagemail <noreply@example.com>"
    mail["To"] = "ada@example.com"
    mail["Subject"] = "Your invoice"
    mail.set_content("Hello Ada, in text.\n")
    mail.add_alternative(SCRIPTED_HTML, subtype="html")
    mail.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice 7.pdf"
    )
    return mail


def _stored(raw: bytes, subject: str = "Your invoice") -> SinkMessage:
    return SinkMessage.objects.create(
        mail_from="noreply@example.com", rcpt_tos=["ada@example.com"], subject=subject, raw=raw
    )


def test_a_message_received_over_smtp_opens_with_its_parts(
    seeded_transactional_db, django_user_model
):
    from emailconfig.models import StageRole
    from tests import factories

    viewer = django_user_model.objects.create_user("viewer2", password="pw")
    factories.grant(viewer, StageRole.VIEWER)
    client = Client()
    client.force_login(viewer)
    sent = _mail().as_bytes(policy=policy.SMTP)
    with smtp_server(SinkHandler()) as server, smtplib.SMTP("127.0.0.1", server.port) as smtp:
        smtp.sendmail("noreply@example.com", ["ada@example.com"], sent)
    received = SinkMessage.objects.get()

    listing = client.get(reverse("emailconfig:sink")).content.decode()
    assert reverse("emailconfig:sink_message", args=[received.pk]) in listing

    page = client.get(reverse("emailconfig:sink_message", args=[received.pk])).content.decode()
    assert "<td>Stagemail &lt;noreply@example.com&gt;</td>" in page
    assert "Hello Ada, in text." in page
    html_url = reverse("emailconfig:sink_html", args=[received.pk])
    assert f'sandbox src="{html_url}"' in page  # an empty sandbox: no scripts, no same origin
    assert "<script>" not in page  # the HTML is never inlined into the portal's page
    attachment_url = reverse("emailconfig:sink_attachment", args=[received.pk, 1])
    assert f'href="{attachment_url}"' in page and "invoice 7.pdf" in page

    raw = client.get(reverse("emailconfig:sink_raw", args=[received.pk]))
    assert b"".join(raw.streaming_content) == sent
    assert raw["Content-Disposition"] == f'attachment; filename="sink-{received.pk}.eml"'


@pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL sessions")
def test_the_sink_holds_no_database_connection_between_messages(seeded_transactional_db):
    with smtp_server(SinkHandler()) as server, smtplib.SMTP("127.0.0.1", server.port) as smtp:
        smtp.sendmail(
            "noreply@example.com", ["ada@example.com"], _mail().as_bytes(policy=policy.SMTP)
        )
        assert SinkMessage.objects.count() == 1
        # A closed connection's server process leaves pg_stat_activity a moment later.
        deadline = time.monotonic() + 5
        while _other_sessions() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _other_sessions() == 0


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_html_part_is_served_under_a_policy_that_runs_nothing(viewer_client):
    received = _stored(_mail().as_bytes())
    response = viewer_client.get(reverse("emailconfig:sink_html", args=[received.pk]))
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert SCRIPTED_HTML in response.content.decode()
    policy = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in policy and "sandbox" in policy  # no allow-scripts
    assert "img-src data:" in policy  # no remote images (trackers)
    assert response["X-Frame-Options"] == "SAMEORIGIN"  # only the portal may frame it


def test_an_attachment_downloads_with_its_name_and_bytes(viewer_client):
    received = _stored(_mail().as_bytes())
    response = viewer_client.get(reverse("emailconfig:sink_attachment", args=[received.pk, 1]))
    assert b"".join(response.streaming_content) == b"%PDF-1.4 invoice"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice 7.pdf"'
    missing = reverse("emailconfig:sink_attachment", args=[received.pk, 2])
    assert viewer_client.get(missing).status_code == 404


def test_malformed_mail_opens_as_far_as_it_can_be_read(viewer_client):
    for name, raw in MALFORMED.items():
        received = _stored(raw, subject=name)
        for view in ("sink_message", "sink_html", "sink_raw"):
            url = reverse(f"emailconfig:{view}", args=[received.pk])
            assert viewer_client.get(url).status_code == 200, (name, view)
    page = viewer_client.get(
        reverse("emailconfig:sink_message", args=[_stored(MALFORMED["unknown charset"]).pk])
    )
    assert "qapla&#x27;" in page.content.decode()


def test_an_editor_deletes_one_message_after_confirming(editor_client):
    kept, gone = _stored(b"Subject: keep\r\n\r\nx", "keep"), _stored(b"Subject: go\r\n\r\nx", "go")
    url = reverse("emailconfig:sink_delete", args=[gone.pk])
    assert "Delete “go”?" in editor_client.get(url).content.decode()
    assert SinkMessage.objects.count() == 2
    response = editor_client.post(url, follow=True)
    assert "Deleted “go”." in response.content.decode()
    assert list(SinkMessage.objects.all()) == [kept]


def test_an_editor_deletes_every_message_after_confirming(editor_client):
    for n in range(3):
        _stored(b"x", f"m{n}")
    url = reverse("emailconfig:sink_delete_all")
    assert "holds 3 messages" in editor_client.get(url).content.decode()
    response = editor_client.post(url, follow=True)
    assert "Deleted every received message (3)." in response.content.decode()
    assert not SinkMessage.objects.exists()


def test_deleting_needs_the_permission_and_a_csrf_token(viewer_client, editor):
    received = _stored(b"x")
    one, every = (
        reverse("emailconfig:sink_delete", args=[received.pk]),
        reverse("emailconfig:sink_delete_all"),
    )
    page = viewer_client.get(reverse("emailconfig:sink_message", args=[received.pk]))
    assert one not in page.content.decode()
    assert viewer_client.post(one).status_code == 403
    assert viewer_client.post(every).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    assert strict.post(one).status_code == 403
    assert strict.post(every).status_code == 403
    assert SinkMessage.objects.count() == 1


@override_settings(STAGEMAIL_LOCAL_SINK=False)
def test_without_the_local_sink_its_pages_do_not_exist(editor_client):
    received = _stored(_mail().as_bytes())
    assert "Local sink" not in editor_client.get(reverse("emailconfig:home")).content.decode()
    urls = [reverse("emailconfig:sink"), reverse("emailconfig:sink_delete_all")] + [
        reverse(f"emailconfig:{view}", args=[received.pk])
        for view in ("sink_message", "sink_html", "sink_raw", "sink_delete")
    ]
    for url in urls:
        assert editor_client.get(url).status_code == 404, url
        assert editor_client.post(url).status_code == 404, url
    assert SinkMessage.objects.count() == 1
