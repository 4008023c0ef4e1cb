"""Throughput of the outbound service against one local SMTP sink, in one run.

Run: make bench   (or .venv/bin/python bench/throughput.py [N] [--delivery], default N=5000)

Measures, against Postfix's smtp-sink (aiosmtpd when it is not installed):
  (a) the raw baseline: plain smtplib over one connection, each message built in
      the loop with the standard library's EmailMessage (text + HTML, ~1.7 KB);
  (b) API accept rate and latency p50/p95/p99 for N messages (8 clients; gunicorn,
      one process per core, 2 threads each);
  (c) delivery rate of those queued messages with 1 and with 2 workers;
  (d) end-to-end rate with the API and 2 workers running together;
  (e) API accept rate through POST /api/v1/messages/batch, 100 messages a request
      (8 clients), once the workers have stopped;
  (f) SMTP submission accept rate (`run_smtp_ingress`, one process per core, 8 client
      connections, each signed in once and sending messages built as in (a)), after the
      same clients against aiosmtpd's own Sink handler, which does nothing (its ceiling).
and ends with the four ratios against (a). With --delivery, only (a) and (c) run (the
messages queued in-process, as the batch endpoint stores them), ending with their ratio.
Needs PostgreSQL on 127.0.0.1:5432; it creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from portal_server import free_port, per_second, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASE = f"stagemail_bench_{os.getpid()}"
TEXT = "Hello Ada,\n\nyour invoice 2026-0042 is ready. " + "Thank you for your order. " * 22
HTML = "<p>Hello <b>Ada</b>,</p><p>your invoice 2026-0042 is ready.</p>" + "<p>Thanks.</p>" * 40
CLIENTS = 8
BATCH = 100  # messages in one POST /api/v1/messages/batch

os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STAGEMAIL_API_RATE_LIMIT": "100000000",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
)
sys.path.insert(0, str(ROOT))


def start_sink(port: int, *, python: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    smtp_sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if Path(smtp_sink).exists() and not python:
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        command = [smtp_sink, *user, f"127.0.0.1:{port}", "1000"]
        name = "Postfix smtp-sink"
    else:
        command = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ]
        name = "aiosmtpd"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process, name
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the SMTP sink did not start")


def raw_baseline(port: int, n: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            message = EmailMessage()
            message["From"] = "Example Team <noreply@example.com>"
            message["To"] = f"User {i} <user{i}@example.com>"
            message["Subject"] = f"Your invoice {i}"
            message.set_content(TEXT)
            message.add_alternative(HTML, subtype="html")
            smtp.send_message(message)
    return n / (time.perf_counter() - started)


def setup_data(port: int) -> str:
    import django

    django.setup()
    from emailconfig.services import configurations, tokens
    from tests import factories

    config = factories.configuration("qa", name="Bench", smtp_port=port)
    app = factories.app("Bench")
    qa = factories.stage("qa")
    configurations.apply_version(app, qa, config.latest_version(), by=None)
    return tokens.issue(app, qa, by=None)[1]


def start_api(port: int) -> subprocess.Popen[bytes]:
    return start_gunicorn(port, os.cpu_count() or 2)


def message(i: int) -> dict[str, object]:
    return {
        "to": [{"email": f"user{i}@example.com", "name": f"User {i}"}],
        "subject": f"Your invoice {i}",
        "text": TEXT,
        "html": HTML,
    }


def submit_all(api_port: int, token: str, n: int) -> tuple[float, list[float]]:
    """POST n messages from CLIENTS threads over kept-alive connections."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        mine = []
        for i in counter:
            body = json.dumps(message(i))
            started = time.perf_counter()
            connection.request("POST", "/api/v1/messages", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                raise SystemExit(f"the API answered {response.status}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    return per_second(n, client, CLIENTS), latencies


def submit_batches(api_port: int, token: str, n: int) -> float:
    """POST n messages in batches of BATCH from CLIENTS threads over kept-alive connections."""
    starts = iter(range(0, n, BATCH))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for start in starts:
            body = json.dumps(
                {"messages": [message(i) for i in range(start, min(start + BATCH, n))]}
            )
            connection.request("POST", "/api/v1/messages/batch", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or json.loads(answer)["refused"]:
                raise SystemExit(f"the batch API answered {response.status}: {answer[:300]!r}")

    return per_second(n, client, CLIENTS)


def queue_in_process(token: str, n: int) -> None:
    """Store n messages as POST /api/v1/messages/batch does, without the API (for --delivery)."""
    from emailconfig.delivery import Address
    from emailconfig.services import outbox, tokens

    for start in range(0, n, BATCH):
        credential = tokens.authenticate(token)
        outbox.accept_batch(
            credential,
            [
                outbox.Submission(
                    to=(Address(f"user{i}@example.com", f"User {i}"),),
                    subject=f"Your invoice {i}",
                    text=TEXT,
                    html=HTML,
                )
                for i in range(start, min(start + BATCH, n))
            ],
        )


class SentCounter:
    """Counts sent messages over one kept connection: the bench polls it every 10 ms while
    the workers run, and a new connection each time (a PostgreSQL backend started and
    ended, about 7 ms) took a good part of a core from what it measures."""

    def __enter__(self) -> SentCounter:
        self.connection = psycopg.connect(f"{PG}/{DATABASE}", autocommit=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def __call__(self) -> int:
        return self.connection.execute(
            "SELECT count(*) FROM emailconfig_message WHERE status = 'sent'"
        ).fetchone()[0]


def park_all() -> None:
    """Queue every message again, due only when released (workers start up meanwhile)."""
    with psycopg.connect(f"{PG}/{DATABASE}", autocommit=True) as conn:
        conn.execute("DELETE FROM emailconfig_deliveryattempt")
        conn.execute(
            "UPDATE emailconfig_message SET status = 'queued', attempt_count = 0, "
            "next_attempt_at = now() + interval '1 day', sent_at = NULL, lease_until = NULL"
        )


def release_all() -> None:
    with psycopg.connect(f"{PG}/{DATABASE}", autocommit=True) as conn:
        conn.execute("UPDATE emailconfig_message SET next_attempt_at = now()")


def workers(count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_worker"],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()


def delivery_rate(count: int, n: int) -> float:
    """Rate of delivering n queued messages, timed from the first one sent to the last.

    Not from their release: an idle worker looks for work every --poll seconds (0.5), and
    that wait, up to half a second on a run of one or two, is latency, not throughput.
    """
    park_all()
    running = workers(count)
    try:
        with SentCounter() as sent_count:
            time.sleep(3)  # let the workers start (Django setup) before the clock runs
            release_all()
            while (first := sent_count()) == 0:
                time.sleep(0.001)
            started = time.perf_counter()
            while sent_count() < n:
                time.sleep(0.01)
            return (n - first) / (time.perf_counter() - started)
    finally:
        stop(running)


def end_to_end(api_port: int, token: str, n: int) -> float:
    with SentCounter() as sent_count:
        before = sent_count()
        running = workers(2)
        try:
            time.sleep(3)
            started = time.perf_counter()
            submit_all(api_port, token, n)
            while sent_count() < before + n:
                time.sleep(0.01)
            return n / (time.perf_counter() - started)
        finally:
            stop(running)


def start_ingress(port: int, processes: int) -> subprocess.Popen[bytes]:
    listen = ["--listen", f"127.0.0.1:{port}", "--processes", str(processes)]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_smtp_ingress", *listen],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the SMTP ingress did not start")


def submit_over_smtp(port: int, token: str | None, n: int) -> float:
    """Send n messages from CLIENTS connections, each signed in once (on loopback)."""
    counter = iter(range(n))

    def client() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            if token:
                smtp.login("bench/qa", token)
            for i in counter:
                message = EmailMessage()
                message["From"] = "Example Team <noreply@example.com>"
                message["To"] = f"User {i} <user{i}@example.com>"
                message["Subject"] = f"Your invoice {i}"
                message.set_content(TEXT)
                message.add_alternative(HTML, subtype="html")
                smtp.send_message(message)  # raises unless the ingress answers 250

    return per_second(n, client, CLIENTS)


def delivery_only(smtp_port: int, token: str, n: int) -> None:
    raw = raw_baseline(smtp_port, n)
    print(f"(a) raw smtplib + EmailMessage, one connection: {raw:8.0f} messages/s")
    queue_in_process(token, n)
    one = delivery_rate(1, n)
    print(f"(c) delivery, 1 worker:                        {one:8.0f} messages/s")
    two = delivery_rate(2, n)
    print(f"(c) delivery, 2 workers:                       {two:8.0f} messages/s")
    print(f"ratio delivery-2-workers/raw: {two / raw:.2f}")


def main() -> None:
    options = [arg for arg in sys.argv[1:] if arg.startswith("--")]
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    if set(options) - {"--delivery"}:
        raise SystemExit(f"usage: {sys.argv[0]} [N] [--delivery]")
    n = int(numbers[0]) if numbers else 5000
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    sink = api = ingress = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
        smtp_port, api_port = free_port(), free_port()
        sink, sink_name = start_sink(smtp_port)
        token = setup_data(smtp_port)
        print(f"Stagemail throughput, N={n}, sink: {sink_name}, PostgreSQL, {os.cpu_count()} cores")
        if "--delivery" in options:
            delivery_only(smtp_port, token, n)
            return

        raw = raw_baseline(smtp_port, n)
        print(f"(a) raw smtplib + EmailMessage, one connection: {raw:8.0f} messages/s")

        api = start_api(api_port)
        accept, latencies = submit_all(api_port, token, n)
        q = statistics.quantiles([x * 1000 for x in latencies], n=100)
        print(
            f"(b) API accept ({CLIENTS} clients):                 {accept:8.0f} messages/s, "
            f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"
        )

        one = delivery_rate(1, n)
        print(f"(c) delivery, 1 worker:                        {one:8.0f} messages/s")
        two = delivery_rate(2, n)
        print(f"(c) delivery, 2 workers:                       {two:8.0f} messages/s")

        both = end_to_end(api_port, token, n)
        print(f"(d) end-to-end, API + 2 workers:               {both:8.0f} messages/s")
        batched = submit_batches(api_port, token, n)
        label = f"(e) API batch accept ({CLIENTS} clients, {BATCH} a POST):"
        print(f"{label:47}{batched:8.0f} messages/s")

        ceiling_port = free_port()
        python_sink, _ = start_sink(ceiling_port, python=True)
        ceiling = submit_over_smtp(ceiling_port, None, n)
        python_sink.terminate()
        python_sink.wait()
        label = f"(f) aiosmtpd's own Sink, {CLIENTS} connections (the ceiling):"
        print(f"{label:47}{ceiling:8.0f} messages/s")
        ingress_port = free_port()
        ingress = start_ingress(ingress_port, os.cpu_count() or 2)
        smtp_accept = submit_over_smtp(ingress_port, token, n)
        label = f"(f) SMTP ingress accept ({CLIENTS} connections):"
        print(f"{label:47}{smtp_accept:8.0f} messages/s")
        print(f"ratio delivery-2-workers/raw: {two / raw:.2f}")
        print(f"ratio end-to-end/raw: {both / raw:.2f}")
        print(f"ratio batch-accept/raw: {batched / raw:.2f}")
        print(f"ratio smtp-ingress-accept/raw: {smtp_accept / raw:.2f}")
    finally:
        for process in (api, sink, ingress):
            if process is not None:
                process.terminate()
                process.wait()
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
