"""Retention purge: Django's Python-side cascade against the set-based purge, in one run.

Run: .venv/bin/python bench/purge.py [N] [--sample S]   (defaults: N=200000, S=5000)

Seeds N finished messages older than the retention period on PostgreSQL (each with one
attempt, every fifth with two; every tenth carries a 20 KB attachment in its stored
bytes), then removes S of them the old way (the ORM's `delete()` with a Python-side
cascade, a thousand at a time, as the purge did before) and the rest with
`retention.purge`, and prints both rates (per second, and per CPU-second of this process
and its PostgreSQL backend, which a busy machine does not skew) and their ratio. Needs PostgreSQL on
127.0.0.1:5432; it creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASE = f"stagemail_purge_bench_{os.getpid()}"
DAYS = 90

os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
)
sys.path.insert(0, str(ROOT))

SEED_MESSAGES = """
    INSERT INTO emailconfig_message (
        id, app_id, stage_id, version_id, status, message_id, recipients, subject, raw,
        envelope_from, template_key, final_recipients, original_recipients, created_at,
        next_attempt_at, give_up_at, lease_token, attempt_count, sent_at, last_error, refused
    )
    SELECT
        gen_random_uuid(), %(app)s, %(stage)s, %(version)s,
        (ARRAY['sent', 'sent', 'sent', 'failed', 'cancelled'])[1 + g %% 5],
        '<bench-' || g || '@example.com>',
        jsonb_build_object('to', jsonb_build_array(jsonb_build_object(
            'email', 'user' || g || '@example.com', 'name', 'User ' || g))),
        'Your invoice ' || g,
        CASE WHEN g %% 10 = 0 THEN %(raw_attached)s ELSE %(raw)s END,
        'noreply@example.com', '', jsonb_build_array('user' || g || '@example.com'), '',
        now() - interval '100 days' + g * interval '1 millisecond',
        now() - interval '100 days', now() - interval '99 days', 1, 1,
        now() - interval '100 days', '', '{}'::jsonb
    FROM generate_series(1, %(n)s) AS g
"""
SEED_ATTEMPTS = """
    INSERT INTO emailconfig_deliveryattempt (
        message_id, number, started_at, duration_ms, engine, outcome, answer, refused, worker
    )
    SELECT id, n, created_at, 12, 'smtp', 'delivered', '250 2.0.0 Ok: queued as 4XYZ',
        '{}'::jsonb, 'bench:1'
    FROM emailconfig_message, generate_series(1, 2) AS n
    WHERE n = 1 OR get_byte(decode(md5(id::text), 'hex'), 0) < 52  -- about one in five
"""


def seed(n: int) -> None:
    from django.db import connection

    from emailconfig.composer import AttachmentData, compose
    from emailconfig.services.outbox import frozen_settings
    from tests import factories

    config = factories.configuration("qa", name="Bench")
    app, qa = factories.app("Bench"), factories.stage("qa")
    version = config.latest_version()
    request = factories.request(subject="Your invoice 1", text="Thank you. " * 200)
    settings = frozen_settings(version.pk)
    raw = compose(request, settings).raw
    pdf = AttachmentData("invoice.pdf", "application/pdf", os.urandom(20_000))
    raw_attached = compose(factories.request(attachments=(pdf,)), settings).raw
    with connection.cursor() as cursor:
        cursor.execute(
            SEED_MESSAGES,
            {
                "app": app.pk,
                "stage": qa.pk,
                "version": version.pk,
                "raw": raw,
                "raw_attached": raw_attached,
                "n": n,
            },
        )
        cursor.execute(SEED_ATTEMPTS)
        cursor.execute("VACUUM ANALYZE emailconfig_message")
        cursor.execute("VACUUM ANALYZE emailconfig_deliveryattempt")


def cpu_seconds() -> float:
    """CPU time used so far by this process and its PostgreSQL backend (when the server
    runs on this machine and /proc is readable): on a busy machine, wall time mostly
    measures waiting for a core."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return backend + time.process_time()


def old_style(sample: int) -> tuple[int, float, float]:
    """What purging did before: the ORM collects every message in Python and cascades."""
    from django.db import models

    from emailconfig.models import DeliveryAttempt, Message
    from emailconfig.services import retention

    relation = DeliveryAttempt._meta.get_field("message").remote_field
    relation.on_delete, kept = models.CASCADE, relation.on_delete
    try:
        cpu, started, removed = cpu_seconds(), time.perf_counter(), 0
        while removed < sample:
            ids = list(retention.expired(DAYS).order_by().values_list("pk", flat=True)[:1000])
            Message.objects.filter(pk__in=ids).delete()
            removed += len(ids)
        return removed, time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        relation.on_delete = kept


def set_based() -> tuple[int, float, float]:
    from emailconfig.services import retention

    cpu, started = cpu_seconds(), time.perf_counter()
    removed = retention.purge(DAYS)
    return removed, time.perf_counter() - started, cpu_seconds() - cpu


def report(label: str, removed: int, wall: float, cpu: float) -> float:
    print(
        f"{label} ({removed:,}): {removed / wall:8,.0f} messages/s "
        f"({removed / cpu:,.0f} per CPU-second)"
    )
    return removed / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=5000)
    args = parser.parse_args()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
        import django

        django.setup()
        started = time.perf_counter()
        seed(args.n)
        from emailconfig.models import DeliveryAttempt

        attempts = DeliveryAttempt.objects.count()
        print(
            f"Retention purge, PostgreSQL, {os.cpu_count()} cores: seeded {args.n:,} finished "
            f"messages with {attempts:,} attempts in {time.perf_counter() - started:.1f} s"
        )
        old = report("old: ORM delete, Python-side cascade", *old_style(args.sample))
        new = report("new: retention.purge, set-based     ", *set_based())
        print(f"ratio new/old: {new / old:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
