"""Two administrators removing each other at the same moment: one of them stays."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, connections

from emailconfig import audit
from emailconfig.services import roles

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_two_administrators_removing_each_other_at_once_leave_one(monkeypatch):
    people = get_user_model().objects
    ada = people.create_user("ada", is_superuser=True, is_staff=True)
    bob = people.create_user("bob", is_superuser=True, is_staff=True)
    # Each removal waits here, after its check and before its commit, for the other to
    # arrive: without a lock both pass the check and the portal is left with none.
    both_checked = threading.Barrier(2, timeout=2)
    record = audit.record

    def record_then_wait(*args, **kwargs):
        entry = record(*args, **kwargs)
        # Broken when the other one waits for our lock instead: as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()
        return entry

    monkeypatch.setattr(audit, "record", record_then_wait)
    refused = []

    def remove(target, by):
        try:
            roles.set_roles(target, administrator=False, stage_roles={}, by=by)
        except ValidationError:
            refused.append(target.username)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=remove, args=(ada, bob)),
        threading.Thread(target=remove, args=(bob, ada)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert people.filter(is_superuser=True, is_active=True).count() == 1
    assert len(refused) == 1
