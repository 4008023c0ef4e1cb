"""The audit trail is append-only on PostgreSQL; only the retention purge removes entries."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from emailconfig import audit
from emailconfig.models import AuditAction, AuditEntry
from emailconfig.services import audit_retention
from emailconfig.worker import Worker

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only trigger exists on PostgreSQL only (SQLite has none; see README)",
)
REFUSED = "the audit trail is append-only"
TABLE = AuditEntry._meta.db_table


def _entry(days_old: int = 0) -> AuditEntry:
    return AuditEntry.objects.create(
        at=timezone.now() - timedelta(days=days_old),
        actor="editor",
        action=AuditAction.STAGE_MOVED,
        target="QA",
    )


def _refused(change) -> None:
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        change()


@postgresql_only
def test_the_orm_can_neither_change_nor_delete_an_entry():
    entry = _entry()
    entry.actor = "someone else"
    _refused(entry.save)
    _refused(lambda: AuditEntry.objects.update(actor="someone else"))
    _refused(entry.delete)
    _refused(lambda: AuditEntry.objects.all().delete())
    assert AuditEntry.objects.get().actor == "editor"


@postgresql_only
def test_sql_can_neither_change_nor_delete_an_entry():
    entry = _entry(days_old=400)

    def run(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])

    _refused(lambda: run(f"UPDATE {TABLE} SET actor = 'x' WHERE id = %s"))  # noqa: S608
    _refused(lambda: run(f"DELETE FROM {TABLE} WHERE id = %s"))  # noqa: S608
    assert AuditEntry.objects.filter(pk=entry.pk, actor="editor").exists()


@postgresql_only
def test_a_declared_cut_off_lets_only_older_entries_go():
    old, recent = _entry(days_old=400), _entry(days_old=1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('stagemail.audit_purge_before', %s, true)",
                [(timezone.now() - timedelta(days=365)).isoformat()],
            )
        _refused(recent.delete)
        _refused(lambda: AuditEntry.objects.filter(pk=old.pk).update(actor="x"))
        AuditEntry.objects.filter(pk=old.pk).delete()
    assert list(AuditEntry.objects.all()) == [recent]


def test_the_purge_removes_the_entries_older_than_the_retention():
    _entry(days_old=400)
    _entry(days_old=366)
    kept = _entry(days_old=364)
    assert audit_retention.purge(365) == 2
    assert list(AuditEntry.objects.all()) == [kept]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_purges_permission_ends_with_its_transaction():
    audit_retention.purge(365)
    old = _entry(days_old=400)
    _refused(old.delete)


def test_the_workers_purge_by_the_setting(settings):
    settings.STAGEMAIL_AUDIT_RETENTION_DAYS = 30
    _entry(days_old=31)
    kept = _entry(days_old=29)
    Worker()._purge_audit_when_due()
    assert list(AuditEntry.objects.all()) == [kept]


def test_no_retention_keeps_every_entry(settings):
    settings.STAGEMAIL_AUDIT_RETENTION_DAYS = 0
    _entry(days_old=4000)
    Worker()._purge_audit_when_due()
    assert AuditEntry.objects.count() == 1


def test_a_command_acts_without_an_address_and_a_user_without_one_too(editor):
    by_command = audit.record(
        audit.Actor.command("rotate_encryption_keys"), AuditAction.KEYS_ROTATED
    )
    by_user = audit.record(editor, AuditAction.STAGE_MOVED, "QA")
    assert (by_command.actor, by_command.address) == ("manage.py rotate_encryption_keys", None)
    assert (by_user.actor, by_user.address) == ("editor", None)
