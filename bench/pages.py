"""Server time of every portal page at scale, on PostgreSQL.

Run: .venv/bin/python bench/pages.py [--apps 10000] [--messages 1000000] [--repeat 20] [--keep]

Seeds a scratch database (DATABASE_URL, default stagemail_pagesbench on 127.0.0.1; created
and dropped by the script unless --keep) with N apps on 5 stages, each app applied on every
stage (a fifth of them a version behind), M finished messages over 30 days with their daily
roll-up, 10,000 sink messages and 10,000 test-sends. Then signs in as an editor (Django's
test client, so the time is the server's: middleware, view, queries and template) and
requests every page `--repeat` times, printing per page its p50 and p95 time, the median of
its Python CPU time and of its time in SQL (so a busy machine can be told from a slow page),
its query count and size, and finally `pages p95 max: N ms`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/stagemail_pagesbench"
STAGES = 5
SCRATCH = 10_000  # sink messages and test-sends
TEXT = "Hello Ada,\n\nyour invoice is ready. " + "Thank you for your order. " * 8


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def admin_url(url: str) -> tuple[str, str]:
    """The server's maintenance database URL, and the scratch database's name."""
    base, _, name = url.rpartition("/")
    return f"{base}/postgres", name


def recreate(url: str) -> None:
    server, name = admin_url(url)
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop(url: str) -> None:
    server, name = admin_url(url)
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(label: str):
    class Timer:
        def __enter__(self) -> None:
            self.start = time.perf_counter()
            print(f"{label}…", end=" ", flush=True)

        def __exit__(self, *exc: object) -> None:
            print(f"{time.perf_counter() - self.start:.1f} s", flush=True)

    return Timer()


def seed_catalogue(apps: int):
    """Stages, one configuration per stage with three versions, apps applied everywhere."""
    from django.db import connection

    from emailconfig.models import EmailConfiguration, Stage
    from emailconfig.seeds import seed_stages
    from emailconfig.services.configurations import save_configuration

    seed_stages(Stage)
    for n, name in enumerate(["Staging", "Demo"][: max(0, STAGES - Stage.objects.count())]):
        Stage.objects.create(name=name, slug=name.lower(), order=40 + n)
    stages = list(Stage.objects.order_by("order"))
    versions = []
    for stage in stages:
        configuration = EmailConfiguration(
            name=f"{stage.name} mail", from_email="noreply@example.com"
        )
        for port in (1025, 1026, 1027):
            configuration.options = {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "requires_auth": False,
            }
            save_configuration(configuration, stages=[stage], test_recipients=[], author=None)
        versions.append(list(configuration.versions.order_by("number")))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO emailconfig_app (name, slug, description, created_at) "
            "SELECT 'App ' || lpad(i::text, 6, '0'), 'app-' || lpad(i::text, 6, '0'), "
            "'Team ' || (i %% 97) || ' service', now() FROM generate_series(1, %s) i",
            [apps],
        )
        for stage, (first, _, latest) in zip(stages, versions, strict=True):
            # A fifth of the apps are behind: still on version 1 of three.
            cursor.execute(
                "INSERT INTO emailconfig_appliedconfiguration "
                "(app_id, stage_id, version_id, applied_at) "
                "SELECT id, %s, CASE WHEN id %% 5 = 0 THEN %s ELSE %s END, now() "
                "FROM emailconfig_app",
                [stage.pk, first.pk, latest.pk],
            )
    return stages, [v[-1] for v in versions]


def insert_messages(count: int, stages, latest_versions) -> None:
    """`count` messages over the last 30 days, 1 in 20 failed, the newest 200 still queued."""
    from django.db import connection

    from emailconfig.models import Message

    ids = ", ".join(str(s.pk) for s in stages)
    version_ids = ", ".join(str(v.pk) for v in latest_versions)
    expressions = {
        "id": "gen_random_uuid()",
        "app_id": "(SELECT min(id) FROM emailconfig_app) + (i::bigint * 7919) %% %(apps)s",
        "stage_id": f"(ARRAY[{ids}])[1 + i %% {len(stages)}]",
        "version_id": f"(ARRAY[{version_ids}])[1 + i %% {len(stages)}]",
        "status": "CASE WHEN i <= 200 THEN 'queued' WHEN i %% 20 = 0 THEN 'failed' ELSE 'sent' END",
        "message_id": "'<' || i || '.bench@example.com>'",
        "recipients": """jsonb_build_object('to', jsonb_build_array(
            jsonb_build_object('email', 'user' || i || '@example.com', 'name', '')))""",
        "subject": "'Invoice ' || i",
        "text": "%(text)s",
        "final_recipients": "jsonb_build_array('user' || i || '@example.com')",
        "created_at": "now() - (i * %(spread)s) * interval '1 second'",
        "next_attempt_at": "now() - (i * %(spread)s) * interval '1 second'",
        "give_up_at": "now() + interval '1 day'",
        "attempt_count": "CASE WHEN i <= 200 THEN 0 ELSE 1 END",
        "sent_at": "CASE WHEN i %% 20 = 0 OR i <= 200 THEN NULL "
        "ELSE now() - (i * %(spread)s) * interval '1 second' END",
        "last_error": "CASE WHEN i %% 20 = 0 THEN '550 5.1.1 No such user' ELSE '' END",
    }
    columns, values = [], []
    params: dict[str, object] = {
        "apps": None,
        "text": TEXT,
        "spread": 30 * 86400 / count,
    }
    for field in Message._meta.concrete_fields:
        columns.append(field.column)
        if field.attname in expressions:
            values.append(expressions[field.attname])
        else:  # whatever the model gives a new message (fields added later included)
            key = f"default_{field.attname}"
            params[key] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({key})s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM emailconfig_app")
        params["apps"] = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO {Message._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM generate_series(1, {int(count)}) i",
            params,
        )


def seed_rest(stages, latest_versions) -> None:
    """The roll-up of those messages, attempts of the newest, sink, test-sends, templates."""
    from django.conf import settings
    from django.db import connection

    from emailconfig.models import EmailTemplate

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO emailconfig_dailydeliverycount (stage_id, day, sent, failed) "
            "SELECT stage_id, (created_at AT TIME ZONE %s)::date, "
            "count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'failed') "
            "FROM emailconfig_message WHERE status IN ('sent', 'failed') GROUP BY 1, 2",
            [settings.TIME_ZONE],
        )
        cursor.execute(
            "INSERT INTO emailconfig_deliveryattempt "
            "(message_id, number, started_at, duration_ms, engine, outcome, answer, refused, "
            "worker) SELECT id, 1, created_at, 12, 'smtp', "
            "CASE status WHEN 'sent' THEN 'delivered' ELSE 'permanent' END, "
            "CASE status WHEN 'sent' THEN '250 2.0.0 Ok' ELSE last_error END, '{}', 'bench' "
            "FROM emailconfig_message WHERE status <> 'queued' "
            "ORDER BY created_at DESC LIMIT 10000"
        )
        cursor.execute(
            "INSERT INTO emailconfig_sinkmessage (received_at, mail_from, rcpt_tos, subject, raw) "
            "SELECT now() - i * interval '1 minute', 'noreply@example.com', "
            "jsonb_build_array('user' || i || '@example.com'), 'Welcome ' || i, "
            "convert_to('Subject: Welcome ' || i || E'\\r\\n\\r\\nHello', 'UTF8') "
            "FROM generate_series(1, %s) i",
            [SCRATCH],
        )
        cursor.execute(
            "INSERT INTO emailconfig_testsend (version_id, sent_at, message_id, subject, "
            "recipients, outcome, server_answer, duration_ms) "
            "SELECT %s, now() - i * interval '1 minute', '<t' || i || '@example.com>', "
            "'Test ' || i, jsonb_build_array('tester' || i || '@example.com'), 'delivered', "
            "'250 2.0.0 Ok', 9 FROM generate_series(1, %s) i",
            [latest_versions[0].pk, SCRATCH],
        )
    for n in range(5):
        EmailTemplate.objects.create(
            key=f"template-{n}",
            name=f"Template {n}",
            subject="Hello {{ name }}",
            text_body="Hello {{ name }}",
            sample_data={"name": "Ada"},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def pages(stages) -> list[tuple[str, str]]:
    from django.urls import reverse

    from emailconfig.models import App, EmailConfiguration, Message

    app = App.objects.order_by("name")[App.objects.count() // 2]
    configuration = EmailConfiguration.objects.order_by("pk").first()
    message = Message.objects.filter(status="failed").order_by("-created_at").first()
    stage = stages[1]
    return [
        ("dashboard", reverse("emailconfig:home")),
        ("configurations", reverse("emailconfig:configuration_list")),
        ("configuration", reverse("emailconfig:configuration_detail", args=[configuration.pk])),
        (
            "configuration, search",
            reverse("emailconfig:configuration_detail", args=[configuration.pk]) + "?q=app-004242",
        ),
        ("configuration edit", reverse("emailconfig:configuration_edit", args=[configuration.pk])),
        ("configuration new", reverse("emailconfig:configuration_create")),
        ("apps", reverse("emailconfig:app_list")),
        ("apps, page 100", reverse("emailconfig:app_list") + "?page=100"),
        ("apps, search", reverse("emailconfig:app_list") + "?q=team+42"),
        ("apps, behind", reverse("emailconfig:app_list") + "?behind=on"),
        ("app", reverse("emailconfig:app_detail", args=[app.slug])),
        ("app edit", reverse("emailconfig:app_edit", args=[app.slug])),
        ("app new", reverse("emailconfig:app_create")),
        ("apply", reverse("emailconfig:apply", args=[app.slug, stage.slug])),
        ("tokens", reverse("emailconfig:token_list", args=[app.slug, stage.slug])),
        ("outbox", reverse("emailconfig:outbox")),
        ("outbox, page 100", reverse("emailconfig:outbox") + "?page=100"),
        ("outbox, failed", reverse("emailconfig:outbox") + "?status=failed"),
        ("outbox, waiting", reverse("emailconfig:outbox") + f"?status=pending&stage={stage.pk}"),
        ("outbox, app", reverse("emailconfig:outbox") + f"?app={app.slug}"),
        ("outbox, subject", reverse("emailconfig:outbox") + "?q=invoice+4242"),
        ("outbox, address", reverse("emailconfig:outbox") + "?q=user424242%40example.com"),
        ("outbox, Message-ID", reverse("emailconfig:outbox") + f"?q={quote(message.message_id)}"),
        ("message", reverse("emailconfig:message_detail", args=[message.pk])),
        ("sink", reverse("emailconfig:sink")),
        ("sink, search", reverse("emailconfig:sink") + "?q=user4242"),
        ("stages", reverse("emailconfig:stage_list")),
        ("templates", reverse("emailconfig:template_list")),
        ("template edit", reverse("emailconfig:template_edit", args=["template-1"])),
        ("preview", reverse("emailconfig:preview")),
        ("preview, search", reverse("emailconfig:preview") + "?q=tester4242"),
    ]


def measure(repeat: int, stages) -> float:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from emailconfig.models import StageRole
    from tests import factories

    editor = User.objects.create_user("bench-editor")
    factories.grant(editor, StageRole.EDITOR)
    client = Client()
    client.force_login(editor)
    worst = 0.0
    # p50 and p95: server time; cpu: its Python (median); sql: time in queries (median)
    heads = ("p50 ms", "p95 ms", "cpu ms", "sql ms", "queries")
    print(f"{'page':<22} " + " ".join(f"{h:>7}" for h in heads) + f" {'KB':>5}")
    for name, url in pages(stages):
        response = client.get(url)  # warm: first compile of its templates
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}")
        times, cpu, sql, queries = [], [], [], set()
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                start, start_cpu = time.perf_counter(), time.thread_time()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.thread_time() - start_cpu) * 1000)
            queries.add(len(captured))
            sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        p50 = statistics.median(times)
        p95 = statistics.quantiles(times, n=20, method="inclusive")[-1]
        worst = max(worst, p95)
        count = "/".join(str(q) for q in sorted(queries))
        size = len(response.content) / 1024
        print(
            f"{name:<22} {p50:7.1f} {p95:7.1f} {statistics.median(cpu):7.1f} "
            f"{statistics.median(sql):7.1f} {count:>7} {size:5.0f}",
            flush=True,
        )
    return worst


def main() -> None:
    args = parse()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url,
            "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )
    sys.path.insert(0, str(ROOT))
    recreate(url)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        with timed("migrate"):
            call_command("migrate", verbosity=0)
        with timed(f"seed {args.apps} apps on {STAGES} stages"):
            stages, latest = seed_catalogue(args.apps)
        with timed(f"seed {args.messages} messages"):
            insert_messages(args.messages, stages, latest)
        with timed("seed roll-up, attempts, sink, test-sends; vacuum analyze"):
            seed_rest(stages, latest)
        load = os.getloadavg()[0]
        worst = measure(args.repeat, stages)
        after = os.getloadavg()[0]
        print(f"load average {load:.1f} before, {after:.1f} after; {os.cpu_count()} cores")
        print(f"pages p95 max: {worst:.0f} ms")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop(url)


if __name__ == "__main__":
    main()
