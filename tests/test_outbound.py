"""The outbound policy: where delivery, the connection test and test-sends may connect.

Through the real engines against real servers on loopback; `tests.connections` shows what
was resolved and connected to, and stops anything that would leave the machine.
"""

import ipaddress
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured

from emailconfig import outbound
from emailconfig.composer import compose
from emailconfig.engines import engine_for
from emailconfig.models import Outcome
from portal.settings import env_ports
from tests.connections import watching
from tests.factories import delivery_settings, request
from tests.servers import sendgrid_stand_in, smtp_server

METADATA_SPELLINGS = [
    "169.254.169.254",
    "::ffff:169.254.169.254",  # IPv4-mapped IPv6
    "::169.254.169.254",  # IPv4-compatible IPv6
    "64:ff9b::a9fe:a9fe",  # NAT64
    "0xA9FEA9FE",  # hexadecimal
    "2852039166",  # decimal
    "0251.0376.0251.0376",  # octal
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba
]


def connection_test(**overrides):
    return engine_for(delivery_settings(connect_timeout=1.0, **overrides)).check_connection()


def send(settings):
    with engine_for(settings) as engine:
        return engine.send(compose(request(), settings).wire)


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_it_never_connects_to_cloud_metadata_in_any_spelling(host):
    with watching() as seen:
        [step] = connection_test(smtp_host=host, smtp_port=25)
    assert seen.connected == []
    assert (step.name, step.ok) == ("Connect", False)
    assert "Stagemail never connects there" in step.answer


@pytest.mark.parametrize("host", METADATA_SPELLINGS[:2])
def test_a_worker_never_connects_to_cloud_metadata_either(host):
    with watching() as seen:
        result = send(delivery_settings(smtp_host=host, connect_timeout=1.0))
    assert seen.connected == []
    assert result.outcome == Outcome.PERMANENT
    assert "never connects there" in result.answer


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_while_private_hosts_are_off(settings, host):
    settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = False
    with smtp_server() as server, watching() as seen:
        [step] = connection_test(smtp_host=host, smtp_port=server.port)
    assert seen.connected == []
    assert not step.ok
    assert "private or loopback address" in step.answer
    assert "STAGEMAIL_ALLOW_PRIVATE_HOSTS" in step.answer


def test_loopback_is_allowed_with_private_hosts_on():
    with smtp_server() as server, watching() as seen:
        steps = connection_test(smtp_port=server.port)
    assert all(step.ok for step in steps)
    assert seen.connected == [("127.0.0.1", server.port)]


def test_a_port_outside_the_allowed_ones_is_refused_before_connecting(settings):
    settings.STAGEMAIL_ALLOWED_SMTP_PORTS = ()
    with smtp_server() as server, watching() as seen:
        [refused] = connection_test(smtp_port=server.port)
        [ssh] = connection_test(smtp_port=22)
    assert seen.connected == []
    assert refused.answer == (
        f"Port {server.port} is not allowed for SMTP: Stagemail connects to ports 25, 465, "
        "587 and 2525, and to those listed in STAGEMAIL_ALLOWED_SMTP_PORTS."
    )
    assert ssh.answer.startswith("Port 22 is not allowed for SMTP")


def test_it_connects_to_the_address_it_resolved_and_checked():
    # Resolving twice (once to check, once to connect) would let a name answer
    # differently in between; the policy resolves once and connects to what it checked.
    with smtp_server() as server, watching() as seen:
        steps = connection_test(smtp_host="localhost", smtp_port=server.port)
    assert all(step.ok for step in steps)
    assert seen.resolved == ["localhost"]
    assert seen.connected == [("127.0.0.1", server.port)]


def _resolving_to(monkeypatch, *families: socket.AddressFamily) -> None:
    """A name that resolves to loopback once per family given, in that order (a stub
    resolver: DNS is out of reach here)."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)) for family in families]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)


def test_an_address_family_the_machine_lacks_moves_on_to_the_next_address(monkeypatch):
    # AF_PACKET takes no TCP socket: creating one fails like AF_INET6 on a host without IPv6.
    _resolving_to(monkeypatch, socket.AF_PACKET, socket.AF_INET)
    with (
        smtp_server() as server,
        outbound.connect("relay.example", server.port, 5, outbound.SMTP) as sock,
    ):
        assert sock.recv(1024).startswith(b"220")
        sock.sendall(b"QUIT\r\n")  # a finished conversation, before the server stops
        assert sock.recv(1024).startswith(b"221")
    assert sock.family == socket.AF_INET


def test_only_the_first_few_addresses_of_a_name_are_tried(monkeypatch):
    _resolving_to(monkeypatch, *[socket.AF_PACKET] * outbound.MAX_ADDRESSES, socket.AF_INET)
    with smtp_server() as server, pytest.raises(OSError):
        outbound.connect("relay.example", server.port, 5, outbound.SMTP)


def test_tls_is_verified_against_the_configured_name_not_the_address(certificates):
    # Connected to 127.0.0.1, the certificate is checked for "localhost" as configured.
    for pair, verified in ((certificates.localhost, True), (certificates.other_host, False)):
        with smtp_server(tls=certificates.server_context(pair)) as server, watching() as seen:
            steps = connection_test(
                smtp_host="localhost",
                smtp_port=server.port,
                smtp_security="starttls",
                trusted_ca=certificates.ca_pem,
            )
        assert seen.connected == [("127.0.0.1", server.port)]
        [tls] = [step for step in steps if step.name == "Encrypt (TLS)"]
        assert tls.ok is verified
        if not verified:
            assert "mismatch" in tls.answer


# SendGrid ----------------------------------------------------------------------


def sendgrid(endpoint):
    return delivery_settings(
        engine="sendgrid", sendgrid_api_key="SG.test-key", sendgrid_endpoint=endpoint
    )


def test_a_sendgrid_endpoint_must_be_a_sendgrid_host(settings):
    settings.STAGEMAIL_SENDGRID_HOSTS = []
    with sendgrid_stand_in() as stand_in, watching() as seen:
        [step] = engine_for(sendgrid(stand_in.endpoint)).check_connection()
        result = send(sendgrid(stand_in.endpoint))
    assert seen.connected == [] and stand_in.requests == []
    assert not step.ok
    assert "“127.0.0.1” is not a SendGrid API host" in step.answer
    assert "STAGEMAIL_SENDGRID_HOSTS" in step.answer
    assert result.outcome == Outcome.PERMANENT and "not a SendGrid API host" in result.answer


def test_an_allowed_sendgrid_host_still_obeys_ports_and_addresses(settings):
    settings.STAGEMAIL_SENDGRID_HOSTS = ["169.254.169.254", "127.0.0.1"]
    with watching() as seen:
        [metadata] = engine_for(sendgrid("https://169.254.169.254/v3/mail/send")).check_connection()
    settings.STAGEMAIL_ALLOWED_HTTPS_PORTS = ()
    with sendgrid_stand_in() as stand_in, watching() as seen_too:
        [port] = engine_for(sendgrid(stand_in.endpoint)).check_connection()
    assert seen.connected == seen_too.connected == []
    assert "never connects there" in metadata.answer
    assert port.answer == (
        f"Port {stand_in.port} is not allowed for HTTPS: Stagemail connects to port 443, and "
        "to those listed in STAGEMAIL_ALLOWED_HTTPS_PORTS."
    )


def test_the_sendgrid_stand_in_is_reached_when_allowed():
    with sendgrid_stand_in() as stand_in, watching() as seen:
        steps = engine_for(sendgrid(stand_in.endpoint)).check_connection()
    assert all(step.ok for step in steps)
    assert seen.connected == [("127.0.0.1", stand_in.port)]


# The policy's rules, address by address -------------------------------------------

ALWAYS_REFUSED = [
    "169.254.1.1",
    "fe80::1",
    "fd00:ec2::254",
    "fd20:ce::254",
    "100.100.100.200",
    "168.63.129.16",
    "224.0.0.1",
    "ff02::1",
    "0.0.0.0",  # noqa: S104  (an address refused, not one bound to)
    "::",
    "0.1.2.3",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "::ffff:169.254.169.254",
    "2002:a9fe:a9fe::1",  # 6to4 carrying 169.254.169.254
    "fec0::1",  # site-local, deprecated
]
PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT, where overlay networks number relays
    "fd12:3456::1",
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 carrying 127.0.0.1
]
PUBLIC = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"]


def allowed(address: str) -> bool:
    try:
        outbound.check_address(address, ipaddress.ip_address(address))
    except outbound.OutboundRefused:
        return False
    return True


@pytest.mark.parametrize("private_hosts", [True, False])
def test_each_kind_of_address_gets_its_rule(settings, private_hosts):
    settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS = private_hosts
    assert [a for a in ALWAYS_REFUSED if allowed(a)] == []
    assert [a for a in PRIVATE if allowed(a)] == (PRIVATE if private_hosts else [])
    assert [a for a in PUBLIC if allowed(a)] == PUBLIC


def test_port_settings_take_ports_and_ranges(monkeypatch):
    monkeypatch.setenv("STAGEMAIL_ALLOWED_SMTP_PORTS", "1025, 8025-8099")
    assert env_ports("STAGEMAIL_ALLOWED_SMTP_PORTS") == ((1025, 1025), (8025, 8099))
    for wrong in ("smtp", "0", "70000", "99-10", "25-"):
        monkeypatch.setenv("STAGEMAIL_ALLOWED_SMTP_PORTS", wrong)
        with pytest.raises(ImproperlyConfigured, match="is not a port"):
            env_ports("STAGEMAIL_ALLOWED_SMTP_PORTS")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://login.microsoftonline.com/contoso", ("https", "login.microsoftonline.com", 443)),
        ("https://localhost:8443/token", ("https", "localhost", 8443)),
        ("http://127.0.0.1:8080/token", ("http", "127.0.0.1", 8080)),
    ],
)
def test_a_credential_url_is_https_or_to_this_machine(url, expected):
    assert outbound.check_web_url(url) == expected


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://oauth2.example.com/token", "over https only"),
        ("ftp://oauth2.example.com/token", "is not an https:// URL"),
        ("https:///token", "is not an https:// URL"),
        ("https://oauth2.example.com:99999/token", "not one from 1 to 65535"),
        ("https://oauth2.example.com:22/token", "Port 22 is not allowed for HTTPS"),
    ],
)
def test_a_credential_url_elsewhere_is_refused(url, refusal):
    with pytest.raises(outbound.OutboundRefused, match=refusal):
        outbound.check_web_url(url)
