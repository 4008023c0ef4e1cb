"""Template bombs against a real portal, and what rendering in child processes costs.

Run: .venv/bin/python bench/render_limits.py [N]   (N templated API messages a round, 2000)

Starts gunicorn (DEBUG off; one worker, two threads) on a scratch PostgreSQL database,
signs in as an editor over HTTP and sends each of the eight template bombs of issue 10
(tests/template_bombs.py) to the three places that render a template: template save
(the form renders it with its sample data), preview (of a bomb saved as the old code
allowed) and API accept. For each it prints the time and the peak memory (VmHWM, reset
before each request) of the portal worker, and the error the portal answered, then
`render bombs refused: N/8, peak MB: X`: a bomb counts when all three refused it within 2 s.

Then what rendering in a render process costs: the time of one render of an invoice
template in the bench's own process and through a render process; and the API accept
rate of that templated message (8 clients; gunicorn, one process per core, 2 threads
each) with render processes (the default) and with rendering in the portal process
(STAGEMAIL_RENDER_PROCESSES=0), in alternating rounds, with the CPU time the portal's
processes spent per message (render processes included), which a busy machine blurs
less than a rate; the best round of each and their ratios. Needs PostgreSQL on
127.0.0.1:5432; it creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from cryptography.fernet import Fernet
from portal_server import free_port, per_second, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASE = f"stagemail_renderbench_{os.getpid()}"
PASSWORD = "bench-" + Fernet.generate_key().decode()[:20]
CLIENTS = 8
ROUNDS = 3
REFUSED_WITHIN = 2.0  # seconds
PORTAL_LOG = Path(tempfile.gettempdir()) / f"stagemail-renderbench-{os.getpid()}.log"
SUBJECT = "Invoice {{ number }} for {{ customer.name }}"
TEXT = (
    "Hello {{ customer.name }},\n\nyour invoice {{ number }} is ready.\n"
    "{% for line in lines %}- {{ line.item }}: {{ line.amount }} EUR\n{% endfor %}"
    "Total: {{ lines|sum(attribute='amount') }} EUR\n"
)
HTML = (
    "<p>Hello <b>{{ customer.name }}</b>,</p><p>your invoice {{ number }} is ready.</p>"
    "<table>{% for line in lines %}<tr><td>{{ line.item }}</td>"
    "<td>{{ line.amount }} EUR</td></tr>{% endfor %}</table>"
)

os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STAGEMAIL_API_RATE_LIMIT": "100000000",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
    }
)
sys.path.insert(0, str(ROOT))

from tests.template_bombs import MEMORY_BOMBS  # noqa: E402


def context(i: int) -> dict[str, object]:
    lines = [{"item": f"Item {n}", "amount": 10 + n} for n in range(5)]
    return {"number": f"2026-{i:05d}", "customer": {"name": f"User {i}"}, "lines": lines}


def setup_data() -> tuple[str, dict[str, int]]:
    """The API token, and the primary keys of the configuration and bomb templates."""
    import django

    django.setup()
    from django.contrib.auth.models import User

    from emailconfig.models import EmailTemplate, StageRole
    from emailconfig.services import configurations, tokens
    from tests import factories

    config = factories.configuration("qa", name="Bench", smtp_port=free_port())
    app = factories.app("Bench")
    qa = factories.stage("qa")
    configurations.apply_version(app, qa, config.latest_version(), by=None)
    editor = User.objects.create_user("bench-editor", "editor@example.com", PASSWORD)
    factories.grant(editor, StageRole.EDITOR)
    invoice = EmailTemplate.objects.create(
        key="invoice",
        name="Invoice",
        subject=SUBJECT,
        text_body=TEXT,
        html_body=HTML,
        sample_data=context(0),
    )
    keys = {"configuration": config.pk, "invoice": invoice.pk}
    for n, bomb in enumerate(MEMORY_BOMBS.values()):  # saved as the old code let them be
        keys[f"bomb-{n}"] = EmailTemplate.objects.create(
            key=f"bomb-{n}", name=f"Bomb {n}", subject="Hello", text_body=bomb
        ).pk
    return tokens.issue(app, qa, by=None)[1], keys


def start_portal(port: int, workers: int, **env: str) -> subprocess.Popen[bytes]:
    with PORTAL_LOG.open("a") as log:  # the bombs' 422s are logged: kept out of the table
        return start_gunicorn(port, workers, env={**os.environ, **env}, stderr=log)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait()


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit("gunicorn did not start its one worker")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


def peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


class Browser:
    """A signed-in editor: cookies and the CSRF token, over one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.get("/accounts/login/")
        status, _ = self.post(
            "/accounts/login/", {"username": "bench-editor", "password": PASSWORD}
        )
        if status != 302:
            raise SystemExit(f"signing in answered {status}")

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, object]) -> tuple[int, str]:
        data = {"csrfmiddlewaretoken": self.cookies["csrftoken"], **data}
        return self.request("POST", path, urlencode(data))


def first_error(page: str) -> str:
    found = re.search(r'<ul class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def bombs(port: int, pid: int, token: str, keys: dict[str, int]) -> tuple[int, float]:
    from emailconfig.models import EmailTemplate

    browser = Browser(port)
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    api_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def save(n: int, bomb: str) -> tuple[bool, str]:
        form = {"key": f"new-{n}", "name": "New", "subject": "Hello", "text_body": bomb}
        status, page = browser.post("/templates/new/", {**form, "sample_data": "{}"})
        saved = EmailTemplate.objects.filter(key=f"new-{n}").exists()
        return status == 200 and not saved, first_error(page)

    def preview(n: int, bomb: str) -> tuple[bool, str]:
        data = {"configuration": keys["configuration"], "template": keys[f"bomb-{n}"]}
        status, page = browser.post("/preview/", {**data, "sample_data": "{}", "preview": "1"})
        error = first_error(page)
        return status == 200 and bool(error), error

    def accept(n: int, bomb: str) -> tuple[bool, str]:
        body = json.dumps({"to": ["ada@example.com"], "template": f"bomb-{n}", "context": {}})
        api.request("POST", "/api/v1/messages", body=body, headers=api_headers)
        response = api.getresponse()
        answer = json.loads(response.read())
        refused = response.status == 422 and answer["error"]["code"] == "template_error"
        return refused, "; ".join(
            answer.get("error", {}).get("fields", {}).get("context", [str(answer)])
        )

    # Warm up: a real template through all three, so the render processes are running.
    warm = {"configuration": keys["configuration"], "template": keys["invoice"], "preview": "1"}
    status, page = browser.post("/preview/", {**warm, "sample_data": ""})
    if status != 200 or first_error(page):
        raise SystemExit(f"the preview of a good template answered {status} {first_error(page)}")
    overall = peak_mb(pid)
    refused = 0
    print(f"{'bomb':<33} {'where':<8} {'time s':>6} {'peak MB':>7}  answer")
    for n, (name, bomb) in enumerate(MEMORY_BOMBS.items()):
        all_refused = True
        for where, attempt in (("save", save), ("preview", preview), ("API", accept)):
            reset_peak(pid)
            started = time.perf_counter()
            ok, answer = attempt(n, bomb)
            seconds = time.perf_counter() - started
            peak = peak_mb(pid)
            overall = max(overall, peak)
            all_refused &= ok and seconds <= REFUSED_WITHIN
            shown = answer if ok else f"NOT REFUSED {answer}"
            print(f"{name:<33} {where:<8} {seconds:6.2f} {peak:7.0f}  {shown[:70]}", flush=True)
        refused += all_refused
    return refused, overall


def submit_all(port: int, token: str, n: int) -> float:
    """POST n templated messages from CLIENTS threads over kept-alive connections."""
    counter = iter(range(n))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for i in counter:
            body = json.dumps(
                {"to": [f"user{i}@example.com"], "template": "invoice", "context": context(i)}
            )
            connection.request("POST", "/api/v1/messages", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                raise SystemExit(f"the API answered {response.status}")

    return per_second(n, client, CLIENTS)


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (gunicorn's master, its
    workers and their render processes): a cost that a busy machine blurs less than a rate."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    seconds = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            seconds += tree_cpu(int(child))
    return seconds


def accept_rates(token: str, n: int) -> dict[str, tuple[float, float]]:
    """Per way of rendering: the best rate of its rounds, and its least CPU per message."""
    best = {"in the portal process": (0.0, float("inf")), "render processes": (0.0, float("inf"))}
    for round_ in range(1, ROUNDS + 1):
        for label, env in (
            ("in the portal process", {"STAGEMAIL_RENDER_PROCESSES": "0"}),
            ("render processes", {}),
        ):
            port = free_port()
            portal = start_portal(port, os.cpu_count() or 2, **env)
            try:
                submit_all(port, token, 200)  # every worker and its render processes warm
                cpu = tree_cpu(portal.pid)
                rate = submit_all(port, token, n)
                cpu_ms = (tree_cpu(portal.pid) - cpu) * 1000 / n
            finally:
                stop(portal)
            best[label] = (max(best[label][0], rate), min(best[label][1], cpu_ms))
            print(
                f"round {round_}, {label:<22} {rate:8.0f} messages/s, "
                f"portal CPU {cpu_ms:.2f} ms/message",
                flush=True,
            )
    return best


def render_cost(repeat: int = 2000) -> tuple[float, float]:
    """Microseconds to render the invoice template: in this process, and through a render
    process (pipe, pickling and the limits included), alternating to share the noise."""
    from emailconfig.render_pool import RenderPool
    from emailconfig.rendering import render_parts

    parts = [(SUBJECT, False), (TEXT, False), (HTML, True)]
    pool = RenderPool(1, 128, 2.0)
    inside, pooled = [], []
    try:
        for _ in range(5):
            for ways, render in (
                (inside, lambda c: render_parts(parts, c, seconds=2.0)),
                (pooled, lambda c: pool.render(parts, c)),
            ):
                render(context(0))
                started = time.perf_counter()
                for i in range(repeat):
                    render(context(i))
                ways.append((time.perf_counter() - started) / repeat * 1e6)
    finally:
        pool.close()
    return min(inside), min(pooled)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    portal = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
        token, keys = setup_data()
        from django.conf import settings

        print(
            f"Stagemail render limits: {settings.STAGEMAIL_RENDER_PROCESSES} render processes "
            f"per portal process, {settings.STAGEMAIL_RENDER_MEMORY_MB} MB each on top of "
            f"its own, {settings.STAGEMAIL_RENDER_SECONDS:g} s per request; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
        )
        port = free_port()
        portal = start_portal(port, 1)
        refused, peak = bombs(port, worker_pid(portal.pid), token, keys)
        stop(portal)
        portal = None
        print(f"render bombs refused: {refused}/{len(MEMORY_BOMBS)}, peak MB: {peak:.0f}")

        inside, pooled = render_cost()
        print(
            f"\nrender of the invoice template: {inside:.0f} us in the portal process, "
            f"{pooled:.0f} us through a render process (+{pooled - inside:.0f} us)"
        )
        print(f"\nAPI accept of a templated message, N={n}, {CLIENTS} clients, best of {ROUNDS}")
        best = accept_rates(token, n)
        (inside_rate, inside_cpu), (pooled_rate, pooled_cpu) = best.values()
        print(
            f"accept, rendering in the portal process: {inside_rate:8.0f} messages/s, "
            f"portal CPU {inside_cpu:.2f} ms/message"
        )
        print(
            f"accept, rendering in render processes:   {pooled_rate:8.0f} messages/s, "
            f"portal CPU {pooled_cpu:.2f} ms/message"
        )
        print(f"ratio accept render-processes/in-process: {pooled_rate / inside_rate:.2f}")
        print(f"ratio CPU per message in-process/render-processes: {inside_cpu / pooled_cpu:.2f}")
        print(f"load average {os.getloadavg()[0]:.1f} at the end; the portal's log: {PORTAL_LOG}")
    finally:
        if portal is not None:
            stop(portal)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
