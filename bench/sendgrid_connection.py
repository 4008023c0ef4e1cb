"""SendGrid engine vs the official client, against a local HTTPS stand-in.

Run: .venv/bin/python bench/sendgrid_connection.py [N]
Prints messages/s for the official `sendgrid` client (a new connection and a
fresh CA load per message) and for Stagemail's engine (one kept-alive
connection), and the ratio between them, measured in the same run.
"""

from __future__ import annotations

import os
import ssl
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from sendgrid import SendGridAPIClient  # noqa: E402

from emailconfig.composer import compose  # noqa: E402
from emailconfig.engines import engine_for  # noqa: E402
from emailconfig.engines.sendgrid import payload  # noqa: E402
from tests.factories import delivery_settings, request  # noqa: E402
from tests.servers import SendGridStandIn, _handler_for, make_certificates  # noqa: E402


def https_stand_in(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    certs = make_certificates(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(SendGridStandIn()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certs.localhost))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, certs.ca_pem


def rate(label: str, n: int, send_one) -> float:
    started = time.perf_counter()
    for _ in range(n):
        send_one()
    per_second = n / (time.perf_counter() - started)
    print(f"{label:<44} {per_second:10.0f} messages/s")
    return per_second


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as folder:
        server, ca_pem = https_stand_in(Path(folder))
        port = server.server_address[1]
        # The official client loads the whole system bundle per message, as in production;
        # the stand-in's CA is appended so it is trusted too.
        ca_file = Path(folder) / "ca.pem"
        ca_file.write_text(Path(ssl.get_default_verify_paths().openssl_cafile).read_text() + ca_pem)
        os.environ["SSL_CERT_FILE"] = str(ca_file)

        settings = delivery_settings(
            engine="sendgrid",
            sendgrid_api_key="SG.bench",
            sendgrid_endpoint=f"https://localhost:{port}/v3/mail/send",
            trusted_ca=ca_pem,
        )
        message = compose(request(), settings).wire
        body = payload(message)

        client = SendGridAPIClient(api_key="SG.bench", host=f"https://localhost:{port}")
        baseline = rate("official sendgrid client (baseline)", n, lambda: client.send(body))
        with engine_for(settings) as engine:
            ours = rate(
                "Stagemail engine, one kept-alive connection", n, lambda: engine.send(message)
            )
        server.shutdown()
    print(f"ratio engine/official-client: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
