"""The issue-10 attacks, re-run against a production-style install; prints the figures.

Run: make attacks   (or .venv/bin/python bench/attacks.py [--faults])

Needs PostgreSQL on 127.0.0.1:5432: a scratch database is created and dropped. The portal
runs under gunicorn (two workers, DEBUG off, the production settings that plain HTTP on
loopback allows) with `manage.py run_worker` beside it; an editor signs in with a cookie
session and CSRF token like a browser. Each part starts its own portal, because what it
needs from the settings differs:

  secrets   STAGEMAIL_ALLOW_PRIVATE_HOSTS on, since the echoing SMTP server and the SendGrid
            stand-in listen on loopback. Each answers with the configuration's secret as is,
            in base64, as the AUTH PLAIN blob, URL- and JSON-escaped, in status lines and
            multi-line replies. After a connection test, a test-send and an API message
            delivered by the worker, every page shown, the API's JSON, a plain pg_dump and
            the portal's and worker's logs are searched for any of those forms.
  outbound  the production default (private hosts off). Targets outside the policy, typed
            in the form (save, and the connection test of unsaved values) and saved
            directly in the database (connection test, delivery by the worker). A target
            counts as reached when a loopback listener accepted a connection, or when the
            answer is not the policy's refusal (so the portal tried to connect).
  ports     private hosts on, so loopback is an allowed host: ports outside
            STAGEMAIL_ALLOWED_SMTP_PORTS there, and SendGrid at other hosts.
  limit     the default STAGEMAIL_CONNECTION_TESTS_PER_MINUTE: 15 tests in a row.
  api       malformed requests, then the same while the database refuses connections.
Duplicates after dropped database connections are measured by `make test-faults`
(run here with --faults).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import http.cookiejar
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, urlencode

import psycopg
from cryptography.fernet import Fernet
from portal_server import free_port

if TYPE_CHECKING:
    from emailconfig import models

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASE = f"stagemail_attacks_{os.getpid()}"
EDITOR, EDITOR_PASSWORD = "editor", secrets.token_urlsafe(16)
LOGS = Path(tempfile.mkdtemp(prefix="stagemail-attacks-"))
REDACTED = "[redacted]"
REFUSALS = (
    "Stagemail never connects there",
    "only when STAGEMAIL_ALLOW_PRIVATE_HOSTS is on",
    "is not allowed for",
    "is not a SendGrid API host",
    "Use https",
)
# Where the name does not resolve from this machine, nothing was connected to.
UNRESOLVED = (
    "Name or service not known",
    "cannot be resolved",
    "Temporary failure in name resolution",
)

BASE_ENV = {
    "PATH": os.environ["PATH"],
    "PYTHONPATH": str(ROOT),
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "STAGEMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "127.0.0.1",
    "DATABASE_URL": f"{PG}/{DATABASE}",
    "STATIC_ROOT": str(LOGS / "static"),
    # Plain HTTP on loopback: no redirect to HTTPS, cookies allowed without it.
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "STAGEMAIL_LOCAL_SINK": "0",
}


# Processes ----------------------------------------------------------------------------


@dataclass
class Portal:
    url: str
    processes: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def portal(name: str, **settings: str) -> Iterator[Portal]:
    """gunicorn with two workers and one delivery worker, their output in LOGS/<name>.*.log."""
    env = BASE_ENV | settings
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi:application"]
    processes = [
        subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{port}", "-w", "2", "--log-level", "info"],
            cwd=ROOT,
            env=env,
            stdout=(LOGS / f"{name}.portal.log").open("ab"),
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=(LOGS / f"{name}.worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=1)  # noqa: S310
                break
            except OSError:
                if processes[0].poll() is not None:
                    raise SystemExit((LOGS / f"{name}.portal.log").read_text()) from None
                time.sleep(0.1)
        yield Portal(url, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=BASE_ENV, check=True)


# A browser-like session ----------------------------------------------------------------


class Forms(HTMLParser):
    """The fields of each <form> on a page, with the values it would submit."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append([])
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1].append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1].append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.forms[-1].append((self._textarea or "", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            name, value = self.forms[-1][-1]
            self.forms[-1][-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def with_field(self, name: str) -> dict[str, str]:
        for form in self.forms:
            if any(n == name for n, _ in form):
                return dict(form)
        raise LookupError(name)


class Session:
    """Cookies, CSRF token and every page shown, kept for the secret search."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.shown: list[tuple[str, str]] = []

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = None
        headers = {"Referer": self.base + path}
        if data is not None:
            csrf = next(c.value for c in self.jar if c.name == "csrftoken")
            body = urlencode({**data, "csrfmiddlewaretoken": csrf}).encode()
        try:
            request = urllib.request.Request(self.base + path, body, headers)  # noqa: S310
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
        self.shown.append((path, text))
        return status, text

    def sign_in(self, username: str = EDITOR) -> None:
        self.request("/accounts/login/")
        status, page = self.request(
            "/accounts/login/", {"username": username, "password": EDITOR_PASSWORD}
        )
        if "Sign out" not in page and "logout" not in page:
            raise SystemExit(f"signing in failed ({status})")


# Data, written directly (the "saved configuration" route bypasses the form) -------------


def django_setup() -> None:
    os.environ.update(BASE_ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_editor(username: str = EDITOR) -> str:
    from django.contrib.auth.models import User

    from emailconfig.models import StageRole
    from tests import factories

    user = User.objects.create_user(username, f"{username}@example.com", EDITOR_PASSWORD)
    factories.grant(user, StageRole.EDITOR)
    return username


def new_stage(slug: str, order: int = 0) -> models.Stage:
    """A stage every editor may change, as a new stage's configuration is what is attacked."""
    from django.contrib.auth.models import User

    from emailconfig import models
    from tests.factories import grant

    stage = models.Stage.objects.create(name=f"Stage {slug}", slug=slug, order=order)
    for editor in User.objects.filter(is_superuser=False):
        grant(editor, models.StageRole.EDITOR, slug)
    return stage


def saved_configuration(name: str, **values: object) -> tuple[int, str]:
    """A configuration saved straight into the database, applied to a new app on a new stage
    the editors may change; its id and an API token for that app and stage."""
    from emailconfig.models import App, EmailConfiguration, Stage
    from emailconfig.services import configurations, tokens
    from tests.factories import engine_settings

    slug = f"s{Stage.objects.count()}"
    stage = new_stage(slug, order=100 + len(slug))
    app = App.objects.create(name=f"App {slug}", slug=f"app-{slug}")
    config = EmailConfiguration(
        name=f"{name} ({slug})", from_email="noreply@example.com", **engine_settings(values)
    )
    configurations.save_configuration(config, stages=[stage], test_recipients=[], author=None)
    configurations.apply_version(app, stage, config.latest_version(), by=None)
    return config.pk, tokens.issue(app, stage, by=None)[1]


def api(base: str, method: str, path: str, token: str = "", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    all_headers = {"Content-Type": "application/json"} | (headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, body, all_headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def send(base: str, token: str, subject: str) -> str:
    message = {
        "to": [{"email": "ada@example.com", "name": "Ada"}],
        "subject": subject,
        "text": "Hi",
    }
    status, _, body = api(base, "POST", "/api/v1/messages", token, json.dumps(message).encode())
    if status != 202:
        raise SystemExit(f"the API refused a message: {status} {body[:300]!r}")
    return json.loads(body)["id"]


def wait_finished(message_ids: list[str], seconds: float = 60) -> None:
    """Until each message was tried at least once (a deferred one is not waited for)."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(f"{PG}/{DATABASE}", autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM emailconfig_message WHERE id = ANY(%s::uuid[]) "
                "AND (attempt_count = 0 OR status = 'sending')",
                [message_ids],
            ).fetchone()[0]
            if not waiting:
                return
            time.sleep(0.3)
    print(f"  ({waiting} messages still not tried after {seconds:.0f} s)")


# Part 1: secrets -----------------------------------------------------------------------

ECHOES = ("plain", "base64", "blob", "url", "json", "multiline", "accepted")


def smtp_echo(mode: str, user: str, password: str, blob: str) -> str:
    """The 535 (or, for "accepted", the 235) a hostile server sends back for AUTH PLAIN."""
    b64 = base64.b64encode(password.encode()).decode()
    return {
        "plain": f"535 5.7.8 Authentication failed pass={password}",
        "base64": f"535 5.7.8 Authentication failed for {b64}",
        "blob": f"535 5.7.8 Bad AUTH PLAIN {blob}",
        "url": f"535 5.7.8 pass={quote(password, safe='')}&u={quote_plus(password)}",
        "json": "535 5.7.8 " + json.dumps({"user": user, "pass": password}),
        "multiline": f"535-5.7.8 pass={password}\r\n535-5.7.8 {b64}\r\n535 5.7.8 {blob}",
        "accepted": f"235-2.7.0 Welcome {password}\r\n235 2.7.0 {blob}",
    }[mode]


class EchoingSMTP:
    """An SMTP server that repeats the password it was sent; the username names the echo."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            connection, _ = self.sock.accept()
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        echo = ""

        def say(line: str) -> None:
            connection.sendall(line.encode() + b"\r\n")

        with contextlib.suppress(OSError), connection:
            say("220 echo.example ESMTP")
            for raw in reader:
                line = raw.decode("ascii", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-echo.example\r\n250-AUTH PLAIN\r\n250 8BITMIME")
                elif verb == "AUTH":
                    blob = line.split()[-1]
                    _, user, password = base64.b64decode(blob).decode().split("\0")
                    echo = smtp_echo(user, user, password, blob)
                    say(echo)
                elif verb == "DATA":
                    say("354 go on")
                    for body in reader:
                        if body == b".\r\n":
                            break
                    say("250 2.0.0 queued; " + echo.replace("\r\n", " ").replace("235", "", 1))
                elif verb == "QUIT":
                    say("221 bye")
                    return
                elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                    say(f"250 2.1.0 ok {echo[-60:]}".strip())
                else:
                    say("502 5.5.2 what")


def sendgrid_echo(key: str) -> tuple[str, bytes]:
    """A reason phrase and a JSON body quoting the key every way."""
    b64 = base64.b64encode(key.encode()).decode()
    reason = f"Forbidden key={key} b64={b64} url={quote(key, safe='')}"
    body = json.dumps(
        {
            "errors": [
                {"message": f"The provided authorization grant is invalid: {key}"},
                {"message": f"Authorization: Bearer {key}", "field": b64},
                {"help": "https://example.invalid/?key=" + quote_plus(key)},
            ]
        }
    ).encode()
    return reason, body


class SendGridEcho(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        reason, body = sendgrid_echo(key)
        self.send_response(403, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def secret_forms(secret: str, username: str = "") -> set[str]:
    """Every way the secret may show: as is, base64, the AUTH PLAIN blob, URL and JSON escapes."""
    forms = {
        secret,
        base64.b64encode(secret.encode()).decode(),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    }
    if username:
        forms.add(base64.b64encode(f"\0{username}\0{secret}".encode()).decode())
    return forms


def leaks_in(text: str, forms: set[str]) -> list[str]:
    texts = {text, html.unescape(text)}
    return sorted({form for form in forms for t in texts if form in t})


def part_secrets() -> tuple[int, int]:
    print("secrets: an echoing SMTP server and SendGrid stand-in on loopback")
    smtp = EchoingSMTP()
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), SendGridEcho)
    threading.Thread(target=stand_in.serve_forever, args=(0.05,), daemon=True).start()
    sg_port = stand_in.server_address[1]
    forms: set[str] = set()
    configs = []  # (name, pk, token)
    for mode in ECHOES:
        password = f'p@ss/{secrets.token_hex(6)}+"q"&\\x='
        forms |= secret_forms(password, mode)
        pk, token = saved_configuration(
            f"Echo {mode}",
            engine="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_requires_auth=True,
            smtp_username=mode,
            smtp_password=password,
        )
        configs.append((mode, pk, token))
    key = f"SG.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(24)}"
    forms |= secret_forms(key)
    pk, token = saved_configuration(
        "Echo SendGrid",
        engine="sendgrid",
        sendgrid_api_key=key,
        sendgrid_endpoint=f"http://localhost:{sg_port}/v3/mail/send",
    )
    configs.append(("sendgrid", pk, token))

    places: list[tuple[str, str]] = []
    with portal(
        "secrets",
        STAGEMAIL_ALLOW_PRIVATE_HOSTS="1",
        STAGEMAIL_ALLOWED_SMTP_PORTS=str(smtp.port),
        STAGEMAIL_ALLOWED_HTTPS_PORTS=str(sg_port),
        STAGEMAIL_SENDGRID_HOSTS="localhost",
        STAGEMAIL_CONNECTION_TESTS_PER_MINUTE="1000",
    ) as running:
        session = Session(running.url)
        session.sign_in()
        message_ids = []
        for name, pk, token in configs:
            session.request(f"/configurations/{pk}/edit/")
            session.request(f"/configurations/{pk}/test-connection/", {})
            _, edit_page = session.request(f"/configurations/{pk}/edit/")
            fields = Forms(edit_page).with_field("smtp_host")
            session.request(f"/configurations/{pk}/edit/test-connection/", fields)
            session.request(f"/configurations/{pk}/edit/test-send/", fields)
            message_ids.append((name, send(running.url, token, f"Echo {name}"), token))
        wait_finished([m for _, m, _ in message_ids])
        session.request("/preview/")
        session.request("/outbox/")
        for _name, message_id, token in message_ids:
            session.request(f"/outbox/{message_id}/")
            _, _, body = api(running.url, "GET", f"/api/v1/messages/{message_id}", token)
            places.append((f"API GET /api/v1/messages/{message_id}", body.decode()))
    places += session.shown
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", f"{PG}/{DATABASE}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    places.append(("pg_dump", dump))
    for log in sorted(LOGS.glob("secrets.*.log")):
        places.append((log.name, log.read_text(errors="replace")))
    leaked = 0
    # The echoes did happen: places showing the redaction mark (else nothing was tested).
    echoed = sum(REDACTED in html.unescape(text) for _, text in places)
    for where, text in places:
        if found := leaks_in(text, forms):
            leaked += 1
            print(f"  LEAK in {where}: {found[0][:40]}…")
    stand_in.shutdown()
    print(
        f"  {len(configs)} configurations, {len(forms)} forms of their secrets searched for; "
        f"{echoed} places show {REDACTED}"
    )
    return leaked, len(places)


# Part 2: outbound ----------------------------------------------------------------------


class Listener:
    """Accepts on every local address at one port and counts the connections."""

    def __init__(self, port: int = 0) -> None:
        self.accepted = 0
        self.socks = []
        for family, host in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):  # noqa: S104
            sock = socket.socket(family)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(50)
            self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        self.port = port

    def _serve(self, sock: socket.socket) -> None:
        while True:
            connection, _ = sock.accept()
            self.accepted += 1
            with contextlib.suppress(OSError):
                connection.sendall(b"220 listener ESMTP\r\n")
            connection.close()


@dataclass
class Target:
    label: str
    values: dict[str, object]
    listener: Listener | None = None
    reached: list[str] = field(default_factory=list)
    unresolved: bool = False
    saved_by_form: bool = False
    accepted_before_delivery: int = 0


def smtp(host: str, port: int, listener: Listener | None = None) -> Target:
    values = {"engine": "smtp", "smtp_host": host, "smtp_port": port}
    return Target(f"smtp {host}:{port}", values, listener)


def sendgrid(url: str, listener: Listener | None = None) -> Target:
    values = {"engine": "sendgrid", "sendgrid_endpoint": url, "sendgrid_api_key": "SG.x.y"}
    return Target(f"sendgrid {url}", values, listener)


def address_corpus(port: int, local: Listener) -> list[Target]:
    """Addresses outside the policy with private hosts off; `port` is allowed."""
    remote = [
        "169.254.169.254",
        "2852039166",
        "0xA9FEA9FE",
        "0251.0376.0251.0376",
        "169.254.43518",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "fe80::1",
        "fc00::1",
        "metadata.google.internal",
    ]
    here = [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "017700000001",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "0.0.0.0",  # noqa: S104
        "0",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "127.0.0.1.nip.io",
    ]
    targets = [smtp(host, port) for host in remote]
    targets += [smtp(host, port, local) for host in here]
    targets += [
        sendgrid(f"https://169.254.169.254:{port}/v3/mail/send"),
        sendgrid(f"http://127.0.0.1:{port}/v3/mail/send", local),
        sendgrid(f"http://localhost:{port}/v3/mail/send", local),
        sendgrid(f"https://[::1]:{port}/v3/mail/send", local),
    ]
    return targets


def port_corpus(allowed: int) -> list[Target]:
    """Ports and SendGrid hosts outside the policy on an allowed host (private hosts on)."""
    targets = []
    for port in (22, 80, 6379, 5432, 8080, 11211):
        listener = None
        with contextlib.suppress(OSError):
            listener = Listener(port)
        targets.append(smtp("127.0.0.1", port, listener))
    spare = Listener()
    targets += [
        smtp("127.0.0.1", spare.port, spare),
        sendgrid(f"http://127.0.0.1:{spare.port}/v3/mail/send", spare),
        sendgrid(f"https://127.0.0.1:{allowed}/v3/mail/send"),
        sendgrid("https://api.sendgrid.com.evil.example/v3/mail/send"),
        sendgrid("https://evil.example/v3/mail/send"),
        sendgrid(f"http://[::1]:{spare.port}/v3/mail/send", spare),
    ]
    return targets


def refused(target: Target, text: str) -> bool:
    """Whether the answer is the policy's refusal; a name not resolving here counts as one,
    and is reported apart."""
    plain = html.unescape(text)
    if any(reason in plain for reason in UNRESOLVED):
        target.unresolved = True
        return True
    return any(reason in plain for reason in REFUSALS)


def new_configuration_fields(session: Session, values: dict) -> dict[str, str]:
    """The new-configuration form filled in with `values`, on a stage of its own."""
    from emailconfig.models import Stage

    _, page = session.request("/configurations/new/")
    slug = f"form-{Stage.objects.count()}"
    stage = new_stage(slug)
    fields = Forms(page).with_field("smtp_host") | {k: str(v) for k, v in values.items()}
    return fields | {
        "name": f"Attack {slug}",
        "from_email": "noreply@example.com",
        "smtp_security": "none",
        "stages": str(stage.pk),
    }


def attack(running: Portal, targets: list[Target]) -> None:
    """Each target: typed in the form (connection test of unsaved values, then save), and
    saved directly (connection test, then a message delivered by the worker)."""
    from emailconfig.models import EmailConfiguration

    session = Session(running.url)
    session.sign_in()
    message_ids: list[tuple[Target, str]] = []
    for n, target in enumerate(targets):
        before = target.listener.accepted if target.listener else 0
        fields = new_configuration_fields(session, target.values)
        _, answer = session.request("/configurations/new/test-connection/", fields)
        if not refused(target, answer):
            target.reached.append("form connection test answered without the policy's refusal")
        session.request("/configurations/new/", fields)
        target.saved_by_form = EmailConfiguration.objects.filter(name=fields["name"]).exists()
        pk, token = saved_configuration(f"Saved attack {n}", **target.values)
        _, answer = session.request(f"/configurations/{pk}/test-connection/", {})
        if not refused(target, answer):
            target.reached.append("saved connection test answered without the policy's refusal")
        message_ids.append((target, send(running.url, token, f"Attack {n}")))
        if target.listener and target.listener.accepted > before:
            target.reached.append("the listener accepted a connection")
    for target, _ in message_ids:
        target.accepted_before_delivery = target.listener.accepted if target.listener else 0
    wait_finished([m for _, m in message_ids])
    with psycopg.connect(f"{PG}/{DATABASE}", autocommit=True) as conn:
        for target, message_id in message_ids:
            error, tries = conn.execute(
                "SELECT last_error, attempt_count FROM emailconfig_message WHERE id = %s",
                [message_id],
            ).fetchone()
            if tries and not refused(target, error):
                target.reached.append(f"worker delivery: {error[:80]!r}")
            if target.listener and target.listener.accepted > target.accepted_before_delivery:
                target.reached.append("the listener accepted the worker's connection")


def part_outbound() -> tuple[int, int, int, int]:
    print("outbound: targets outside the policy, through the form and saved directly")
    local, allowed = Listener(), Listener()
    addresses = address_corpus(local.port, local)
    with portal(
        "outbound",
        STAGEMAIL_ALLOWED_SMTP_PORTS=str(local.port),
        STAGEMAIL_ALLOWED_HTTPS_PORTS=str(local.port),
        STAGEMAIL_CONNECTION_TESTS_PER_MINUTE="1000",
    ) as running:
        attack(running, addresses)
    ports = port_corpus(allowed.port)
    with portal(
        "ports",
        STAGEMAIL_ALLOW_PRIVATE_HOSTS="1",
        STAGEMAIL_ALLOWED_SMTP_PORTS=str(allowed.port),
        STAGEMAIL_ALLOWED_HTTPS_PORTS=str(allowed.port),
        STAGEMAIL_CONNECTION_TESTS_PER_MINUTE="1000",
    ) as running:
        attack(running, ports)
        # The control: the same form trial to an allowed target does connect.
        session = Session(running.url)
        session.sign_in()
        values = {"engine": "smtp", "smtp_host": "127.0.0.1", "smtp_port": allowed.port}
        session.request(
            "/configurations/new/test-connection/",
            new_configuration_fields(session, values),
        )
        control = "connected" if allowed.accepted else "DID NOT CONNECT: the figure is void"
        print(f"  control, a form trial to an allowed listener: {control}")
    targets = addresses + ports
    for target in targets:
        if target.reached:
            print(f"  REACHED {target.label}: {'; '.join(target.reached)}")
    print(f"  {len(addresses)} address targets (private hosts off), {len(ports)} port/host targets")
    print(
        f"  saved by the form: {[t.label for t in targets if t.saved_by_form] or 'none'}; "
        f"{sum(t.unresolved for t in targets)} names do not resolve from this machine"
    )
    with portal("limit") as running:
        session = Session(running.url)
        session.sign_in(create_editor("limited"))
        pk, _ = saved_configuration("Rate limited", engine="smtp", smtp_host="192.0.2.1",
                                    smtp_port=25, connect_timeout=1)  # fmt: skip
        tests, limited = 15, 0
        for _ in range(tests):
            _, answer = session.request(f"/configurations/{pk}/test-connection/", {})
            limited += "STAGEMAIL_CONNECTION_TESTS_PER_MINUTE" in html.unescape(answer)
    return sum(bool(t.reached) for t in targets), len(targets), tests, limited


# Part 3: API answers -------------------------------------------------------------------


def api_corpus(token: str) -> list[tuple[str, str, str, bytes | None, dict[str, str]]]:
    good = {"to": [{"email": "ada@example.com"}], "subject": "Hi", "text": "Hi"}
    body = json.dumps(good).encode()
    bad_tokens = ["", "x", "sm_" + "A" * 5000, token + "x", "\u00e9\u00e9", token[:-1]]
    cases = [
        ("POST", "/api/v1/messages", token, b"{", {}),
        ("POST", "/api/v1/messages", token, b"", {}),
        ("POST", "/api/v1/messages", token, b"null", {}),
        ("POST", "/api/v1/messages", token, b"[]", {}),
        ("POST", "/api/v1/messages", token, b'{"to": "x"}', {}),
        ("POST", "/api/v1/messages", token, b'{"to": [{"email": 5}]}', {}),
        ("POST", "/api/v1/messages", token, b"\xff\xfe\x00{", {}),
        (
            "POST",
            "/api/v1/messages",
            token,
            '{"subject": "\ud800"}'.encode("utf-8", "surrogatepass"),
            {},
        ),
        (
            "POST",
            "/api/v1/messages",
            token,
            json.dumps(good | {"subject": "\u202e" * 999}).encode(),
            {},
        ),
        ("POST", "/api/v1/messages", token, b'{"a":' * 5000 + b"1" + b"}" * 5000, {}),
        ("POST", "/api/v1/messages", token, body, {"Content-Type": "text/plain"}),
        (
            "POST",
            "/api/v1/messages",
            token,
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        (
            "POST",
            "/api/v1/messages",
            token,
            b"--x\r\n\r\n",
            {"Content-Type": "multipart/form-data; boundary=x"},
        ),
        ("POST", "/api/v1/messages", token, b"x" * (20 * 1024 * 1024), {}),
        ("POST", "/api/v1/messages", token, body, {"Content-Length": "5"}),
        ("POST", "/api/v1/messages", token, body, {"Content-Encoding": "gzip"}),
        ("PUT", "/api/v1/messages", token, body, {}),
        ("DELETE", "/api/v1/messages", token, None, {}),
        ("PATCH", "/api/v1/messages", token, body, {}),
        ("GET", "/api/v1/messages", token, None, {}),
        ("OPTIONS", "/api/v1/messages", token, None, {}),
        ("POST", "/api/v1/messages/", token, body, {}),
        ("GET", "/api/v1/messages/not-a-uuid", token, None, {}),
        ("GET", "/api/v1/messages/00000000-0000-0000-0000-000000000000", token, None, {}),
        ("GET", "/api/v1/", token, None, {}),
        ("GET", "/api/v1/nothing", token, None, {}),
        ("GET", "/api/v1/nothing/", "", None, {}),
        ("GET", "/api/v1/%ff%fe", token, None, {}),
        ("GET", "/api/v1/messages/%00", token, None, {}),
        ("POST", "/api/v1/../admin/", token, body, {}),
        ("GET", "/api/v1/docs", "", None, {}),
        ("GET", "/api/v1/openapi.json", "", None, {}),
    ]
    cases += [("POST", "/api/v1/messages", bad, body, {}) for bad in bad_tokens]
    schemes = ("Basic eDp5", "Bearer", "Bearer  ", "bearer " + token, "Token " + token)
    cases += [("POST", "/api/v1/messages", "", body, {"Authorization": a}) for a in schemes]
    return [(m, p, t, b, h) for m, p, t, b, h in cases]


def raw_api(base: str, method: str, path: str, token: str, body: bytes | None,
            headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """Over a raw socket, so that any header and any path goes out as written."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    all_headers = {"Content-Type": "application/json"} | headers
    if token:
        all_headers.setdefault("Authorization", f"Bearer {token}")
    if body is not None:
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    request = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + (body or b"")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    if found.get("transfer-encoding") == "chunked":
        content = dechunk(content)
    return status, found, content


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out, data = out + data[:n], data[n + 2 :]
    return out


def not_json(status: int, headers: dict[str, str], body: bytes) -> str:
    """Why an answer is not JSON; empty when it is."""
    kind = headers.get("content-type", "")
    if status == 0:
        return "no HTTP answer"
    if not kind.startswith("application/json"):
        return f"{status} {kind or 'no Content-Type'}"
    try:
        json.loads(body)
    except ValueError:
        return f"{status} body does not parse"
    return ""


def part_api() -> tuple[int, int, int, int]:
    print("api: malformed requests, then with the database refusing connections")
    _, token = saved_configuration("API target", engine="smtp", smtp_host="192.0.2.1", smtp_port=25)
    bad = total = unavailable = with_retry = 0
    with portal("api") as running:
        corpus = api_corpus(token)
        for database_up in (True, False):
            if not database_up:
                block_database(True)
            try:
                for method, path, tok, body, headers in corpus:
                    status, answer_headers, content = raw_api(
                        running.url, method, path, tok, body, headers
                    )
                    total += 1
                    if why := not_json(status, answer_headers, content):
                        bad += 1
                        state = "up" if database_up else "down"
                        print(f"  NOT JSON (database {state}) {method} {path[:50]}: {why}")
                    if status == 503:
                        unavailable += 1
                        with_retry += "retry-after" in answer_headers
            finally:
                if not database_up:
                    block_database(False)
    return bad, total, unavailable, with_retry


def block_database(blocked: bool) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS {str(not blocked).lower()}')
        if blocked:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [DATABASE],
            )


# Main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", action="store_true", help="also run `make test-faults`")
    args = parser.parse_args()
    started = time.monotonic()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        manage("migrate", "-v0")
        manage("collectstatic", "--noinput", "-v0")
        django_setup()
        create_editor()
        leaked, places = part_secrets()
        print(f"secrets leaked: {leaked} (of {places} places checked)")
        reached, targets, tests, limited = part_outbound()
        print(f"outbound targets reached outside the policy: {reached} of {targets}")
        print(f"rate limit: {tests} connection tests in a minute, {limited} refused")
        bad, total, unavailable, with_retry = part_api()
        print(f"API answers that were not JSON: {bad} of {total}")
        print(f"  503 while the database refused connections: {unavailable}, "
              f"{with_retry} with Retry-After")  # fmt: skip
        if args.faults:
            faults = subprocess.run(["make", "test-faults"], cwd=ROOT, check=False)
            duplicates = "none (make test-faults passed)" if faults.returncode == 0 else "FAILED"
        else:
            duplicates = "run `make test-faults` (or this script with --faults)"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print()
    print(f"summary ({time.monotonic() - started:.0f} s; logs in {LOGS})")
    print(f"  secrets leaked:                               {leaked} (of {places} places)")
    print(f"  outbound targets reached outside the policy:  {reached} of {targets}")
    print(f"  connection tests refused by the rate limit:   {limited} of {tests} in a minute")
    print(f"  API answers that were not JSON:               {bad} of {total}")
    print(f"  duplicates after dropped database connections: {duplicates}")


if __name__ == "__main__":
    main()
