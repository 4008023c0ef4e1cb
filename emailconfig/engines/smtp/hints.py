"""Plain-language hints for the failures admins meet most when testing a connection."""

from __future__ import annotations

from emailconfig.delivery import DeliverySettings
from emailconfig.engines.smtp.options import Security, SMTPServer

IMPLICIT_TLS_PORTS = {465}
STARTTLS_PORTS = {25, 587, 2525}


def hint_for(step: str, answer: str, settings: DeliverySettings) -> str:
    text = answer.lower()
    server = SMTPServer.of(settings.options)
    port, security = server.port, server.security
    if (
        "wrong version number" in text.replace("_", " ")
        or "record layer failure" in text
        or (security == Security.TLS and "handshake" in text and port in STARTTLS_PORTS)
    ):
        return (
            f"The server on port {port} does not start with TLS. Port 587 and 25 usually "
            "use STARTTLS; choose STARTTLS, or use port 465 for implicit TLS."
        )
    waits_for_tls = security != Security.TLS and port in IMPLICIT_TLS_PORTS
    if "sent no greeting" in text:
        if waits_for_tls:
            return (
                f"Port {port} expects implicit TLS from the first byte: the server waits for "
                "a TLS handshake and says nothing before it. Choose Implicit TLS."
            )
        if security != Security.TLS:
            return (
                "The server accepted the connection but said nothing. A port for implicit "
                "TLS (usually 465) waits silently for a TLS handshake: choose Implicit TLS if "
                "this is one. Otherwise the server is overloaded or not a mail server."
            )
        return (
            "The connection and TLS handshake worked, but the server said nothing. It may be "
            "overloaded, or not be a mail server; check the port."
        )
    if "timed out" in text and step.startswith("Connect"):
        return (
            f"No answer from {server.host}:{port} in time. A firewall may be dropping "
            "the traffic, or the host or port is wrong."
            + (f" Port {port} expects implicit TLS; choose Implicit TLS." if waits_for_tls else "")
        )
    if text.startswith("not an smtp server"):
        return (
            f"Something answers on {server.host}:{port}, but not an SMTP server; what "
            "it said is not shown. Check the host and port."
        )
    if text.startswith("the server turned the connection away"):
        return (
            "The server refused this connection before any exchange: it may be busy, or may "
            "not accept mail from this machine's address."
        )
    if "connection refused" in text:
        return f"Nothing accepts connections on {server.host}:{port}. Check host and port."
    if "hostname mismatch" in text or "doesn't match" in text or "not valid for" in text:
        return (
            f"The server's certificate is not issued for “{server.host}”. Use the host "
            "name written on the certificate."
        )
    if "certificate" in text and ("self-signed" in text or "unable to get local issuer" in text):
        return (
            "The certificate is signed by an authority this machine does not trust. For a "
            "private relay, paste its CA certificate under “Trusted CA certificates”."
        )
    if "does not offer starttls" in text:
        return (
            "The server offers no STARTTLS here. Check the port, or whether it needs implicit TLS."
        )
    if step == "Authenticate" and ("535" in text or "authentication rejected" in text):
        return (
            "The server rejected the username or password. Gmail needs an app password; "
            "Microsoft 365 no longer takes passwords: choose Microsoft 365 OAuth2 to sign in."
        )
    if "does not offer authentication" in text:
        return "Some servers offer AUTH only after STARTTLS; check the security setting."
    if step.startswith("Sender") and text.split(":")[-1].strip()[:1] == "5":
        return (
            f"The server refuses to send as {settings.sender.email}. Use an address the "
            "account is allowed to send from, or allow this sender on the relay."
        )
    if "name or service not known" in text or "nodename nor servname" in text:
        return f"“{server.host}” cannot be resolved. Check the host name."
    return ""
