"""Where Stagemail may connect: the one outbound policy, for every connection it opens.

An editor chooses the hosts and ports that delivery connects to, so without a policy
the portal would reach whatever its own machine can: cloud metadata, loopback
services, the private network. Every outbound connection (SMTP, SendGrid, the
connection test, the workers) is opened by `connect()`: the name is resolved once,
every address it resolves to is checked, and the socket connects to a checked
address, so a name cannot resolve elsewhere a moment later. Callers keep the
configured host name for TLS (SNI and certificate check).

Decisions are taken on resolved addresses only: "2852039166", "0xA9FEA9FE" and
"0251.0376.0251.0376" are 169.254.169.254 to the resolver, so they are to the policy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from emailconfig.validators import is_loopback

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple]

SENDGRID_HOSTS = ("api.sendgrid.com", "api.eu.sendgrid.com")
# A name with many unreachable addresses would hold a worker for a timeout each.
MAX_ADDRESSES = 4


@dataclass(frozen=True)
class Service:
    """A kind of outbound connection: the ports it always may use and the setting adding more."""

    name: str
    ports: tuple[int, ...]
    setting: str

    def allows(self, port: int) -> bool:
        extra = getattr(settings, self.setting)
        return port in self.ports or any(low <= port <= high for low, high in extra)


SMTP = Service("SMTP", (25, 465, 587, 2525), "STAGEMAIL_ALLOWED_SMTP_PORTS")
HTTPS = Service("HTTPS", (443,), "STAGEMAIL_ALLOWED_HTTPS_PORTS")


class OutboundRefused(Exception):
    """The policy forbids this destination; the message says why and which setting decides."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_net = ipaddress.ip_network

# Never, whatever the settings: answering here are the machine's cloud credentials.
# AWS, GCP, Azure, Oracle, DigitalOcean: 169.254.169.254 (in link-local); AWS over IPv6;
# GCP over IPv6; Alibaba (inside CGNAT's range); Azure's WireServer (a public address).
_METADATA = (
    _net("fd00:ec2::254/128"),
    _net("fd20:ce::254/128"),
    _net("100.100.100.200/32"),
    _net("168.63.129.16/32"),
)
# Allowed only with STAGEMAIL_ALLOW_PRIVATE_HOSTS: this machine and the private networks.
# CGNAT's shared range (100.64.0.0/10) counts as private: overlay networks such as
# Tailscale number on-premises relays from it.
_PRIVATE = (
    _net("127.0.0.0/8"),
    _net("10.0.0.0/8"),
    _net("172.16.0.0/12"),
    _net("192.168.0.0/16"),
    _net("100.64.0.0/10"),
    _net("::1/128"),
    _net("fc00::/7"),
)
_NAT64 = _net("64:ff9b::/96")
_IPV4_COMPATIBLE = _net("::/96")


def carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches: mapped, compatible, NAT64 or 6to4."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)  # noqa: S101  (version 6)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    in_low_prefix = address in _NAT64 or address in _IPV4_COMPATIBLE
    if in_low_prefix and not (address.is_loopback or address.is_unspecified):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _never_kind(address: IPAddress) -> str:
    """Why no setting allows connecting to `address`; empty when one may."""
    if any(address in network for network in _METADATA):
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata answers)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if any(address in network for network in _PRIVATE):
        return ""
    site_local = address.version == 6 and address.is_site_local  # type: ignore[union-attr]
    if address.is_reserved or not address.is_global or site_local:
        return "a reserved or non-routable address"
    return ""


def check_address(host: str, address: IPAddress) -> None:
    """Refuse an address `host` resolved to, unless the policy allows connecting to it."""
    address = carried_ipv4(address) or address
    shown = f"“{host}” is" if host == str(address) else f"“{host}” resolves to"
    if kind := _never_kind(address):
        raise OutboundRefused(f"{shown} {kind}; Stagemail never connects there.")
    private = any(address in network for network in _PRIVATE)
    if private and not settings.STAGEMAIL_ALLOW_PRIVATE_HOSTS:
        raise OutboundRefused(
            f"{shown} a private or loopback address; Stagemail connects to those only when "
            "STAGEMAIL_ALLOW_PRIVATE_HOSTS is on (for a relay on your own network)."
        )


def check_port(port: int, service: Service) -> None:
    if not service.allows(port):
        *others, last = map(str, service.ports)
        always = f"ports {', '.join(others)} and {last}" if others else f"port {last}"
        raise OutboundRefused(
            f"Port {port} is not allowed for {service.name}: Stagemail connects to {always}, "
            f"and to those listed in {service.setting}."
        )


def check_sendgrid_host(host: str) -> None:
    allowed = (*SENDGRID_HOSTS, *settings.STAGEMAIL_SENDGRID_HOSTS)
    if host.lower().rstrip(".") not in allowed:
        raise OutboundRefused(
            f"“{host}” is not a SendGrid API host: Stagemail posts to "
            f"{' or '.join(SENDGRID_HOSTS)}, and to the hosts listed in STAGEMAIL_SENDGRID_HOSTS."
        )


def check_web_url(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of a URL Stagemail may post credentials to.

    HTTPS, on a port allowed for HTTPS; plain HTTP only to this machine (a stand-in
    under test), which the address check then allows only with STAGEMAIL_ALLOW_PRIVATE_HOSTS.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise OutboundRefused(f"“{url}” is not an https:// URL.")
    if parts.scheme == "http" and not is_loopback(host):
        raise OutboundRefused(
            f"“{host}” is reached over https only: credentials would otherwise travel "
            "in clear text."
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused(f"The port in “{url}” is not one from 1 to 65535.") from None
    check_port(port, HTTPS)
    return parts.scheme, host, port


def checked_addresses(host: str, port: int) -> list[AddressInfo]:
    """Resolve `host` once; refused unless the policy allows every address it resolves to.

    Raises OutboundRefused, or OSError (socket.gaierror) when the name does not resolve.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in found:
        check_address(host, ipaddress.ip_address(sockaddr[0]))
    return found


def check_host(host: str) -> None:
    """Refuse a host being configured if the addresses it resolves to now are forbidden.

    A name that does not resolve from here is not an error yet: it is checked again,
    like every host, when a connection is opened. One the resolver cannot even encode
    (an empty or overlong label) is left to the host validator's error.
    """
    with contextlib.suppress(OSError, UnicodeError):
        checked_addresses(host, 0)


def connect(host: str, port: int, timeout: float | None, service: Service) -> socket.socket:
    """A socket connected to a checked address of `host`, trying the resolver's first
    MAX_ADDRESSES in its order, each within `timeout`."""
    check_port(port, service)
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in checked_addresses(host, port)[:MAX_ADDRESSES]:
        try:  # a family this machine lacks (IPv6 turned off) fails here: try the next address
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            error = exc
            continue
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"{host} resolves to no address")
