"""Migrations that carry data: 0008 composes the messages accepted before it, so nothing in
flight is lost; 0012 turns the two groups into stage roles."""

from datetime import timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from emailconfig import mime
from emailconfig.models import Message, MessageStatus
from emailconfig.worker import Worker
from tests import factories
from tests.servers import smtp_server

BEFORE = ("emailconfig", "0007_daily_rollup")


def latest():
    """The newest migration: the live models the checks below use need every one."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes("emailconfig")[0]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def queued_before_compose_once(credential, message_id: str):
    """A message accepted by the code before 0008: its parts in columns, a file in a row."""
    old = migrate(BEFORE)
    now = timezone.now()
    queued = old.get_model("emailconfig", "Message").objects.create(
        app_id=credential.app_id,
        stage_id=credential.stage_id,
        version_id=credential.applied_version_id,
        message_id=message_id,
        recipients={"to": [{"email": "ada@example.com", "name": "Ada"}], "cc": [], "bcc": []},
        reply_to={"email": "billing@example.com", "name": ""},
        subject="Invoice 7",
        text="Hello Ada",
        html="<p>Hello Ada</p>",
        headers={"X-Campaign": "invoices"},
        final_recipients=["ada@example.com"],
        created_at=now - timedelta(minutes=5),
        give_up_at=now + timedelta(days=1),
    )
    old.get_model("emailconfig", "Attachment").objects.create(
        message=queued, filename="a.pdf", content_type="application/pdf", content=b"%PDF"
    )
    return queued


def test_a_message_queued_before_compose_once_is_composed_and_delivered(seeded_transactional_db):
    with smtp_server() as sink:
        credential = factories.api_credential(
            factories.configuration("qa", name="QA mail", smtp_port=sink.port)
        )
        queued = queued_before_compose_once(credential, "<accepted-before@example.com>")
        migrate(latest())  # through 0008_compose_once

        message = Message.objects.get(pk=queued.pk)
        stored = mime.read(bytes(message.raw))
        assert message.envelope_from == "noreply@example.com"
        assert stored.header("Message-ID") == "<accepted-before@example.com>"
        assert (stored.text, stored.html) == ("Hello Ada\n", "<p>Hello Ada</p>\n")
        assert stored.header("Reply-To") == "billing@example.com"
        assert stored.header("X-Campaign") == "invoices"
        assert stored.attachments == (mime.AttachmentData("a.pdf", "application/pdf", b"%PDF"),)

        Worker().run_once()
        assert Message.objects.get(pk=queued.pk).status == MessageStatus.SENT
        [received] = sink.handler.received
        assert received.content == bytes(message.raw)


def test_going_back_before_compose_once_restores_what_the_old_code_sends(seeded_transactional_db):
    credential = factories.api_credential(factories.configuration("qa", name="QA mail"))
    queued = queued_before_compose_once(credential, "<round-trip@example.com>")
    migrate(latest())
    old = migrate(BEFORE)
    try:
        back = old.get_model("emailconfig", "Message").objects.get(pk=queued.pk)
        assert (back.text, back.html) == ("Hello Ada\n", "<p>Hello Ada</p>\n")
        assert back.headers == {"X-Campaign": "invoices"}
        assert back.reply_to == {"email": "billing@example.com", "name": ""}
        [attachment] = old.get_model("emailconfig", "Attachment").objects.filter(message=back)
        assert (attachment.filename, bytes(attachment.content)) == ("a.pdf", b"%PDF")
    finally:
        migrate(latest())


def test_members_of_the_old_groups_keep_what_they_could_do_stage_by_stage(
    seeded_transactional_db,
):
    old = migrate(("emailconfig", "0011_audit_entry"))
    Group, User = old.get_model("auth", "Group"), old.get_model("auth", "User")
    viewers = Group.objects.get_or_create(name="Stagemail viewers")[0]
    editors = Group.objects.get_or_create(name="Stagemail editors")[0]
    User.objects.create(username="vera").groups.add(viewers)
    User.objects.create(username="ed").groups.add(editors, viewers)
    User.objects.create(username="nobody")

    new = migrate(latest())
    grants = new.get_model("emailconfig", "StageGrant").objects
    roles = set(grants.values_list("user__username", "stage__slug", "role"))
    assert roles == {
        ("vera", "development", "viewer"),
        ("vera", "qa", "viewer"),
        ("vera", "production", "viewer"),
        ("ed", "development", "editor"),
        ("ed", "qa", "editor"),
        ("ed", "production", "production_editor"),
    }
    assert not new.get_model("auth", "Group").objects.filter(name__startswith="Stagemail").exists()
