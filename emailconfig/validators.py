"""Validators shared by models, forms and (later) the API."""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
import ssl

import idna
from cryptography import x509
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# C0, DEL, C1 and line breaks, as the body of a regex character class (the API's document shows it)
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CHARACTERS}]")
# RFC 5321 4.5.3.1: a path is at most 256 octets with its angle brackets.
MAX_LOCAL_PART, MAX_DOMAIN, MAX_ADDRESS = 64, 255, 254
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def has_control_characters(value: str) -> bool:
    """Whether text could break out of an email header or a protocol line: the one rule."""
    return _CONTROL_CHARACTERS.search(value) is not None


def validate_header_safe(value: str) -> None:
    """Refuse text that could break out of an email header (CR, LF and other controls)."""
    if has_control_characters(value):
        raise ValidationError(
            "Line breaks and control characters are not allowed here.",
            code="header_injection",
        )


def validate_host(value: str) -> None:
    """Accept a DNS name or an IPv4/IPv6 address, nothing else (no scheme, port or path)."""
    if not value:
        return
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate)
        return
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        hint = ""
        if "://" in value or ":" in value or "/" in value:
            hint = " Give only the host name; the port has its own field."
        raise ValidationError(
            f"“{value}” is not a valid host name or IP address.{hint}", code="invalid_host"
        )


def wire_address(value: str) -> str:
    """The address as SMTP commands and headers carry it, or a ValidationError naming the rule.

    Stagemail does not use SMTPUTF8, so the mailbox name must be ASCII and an
    internationalised domain goes in its ASCII form: IDNA 2008 after UTS 46 mapping
    (non-transitional), as browsers do. Python's own "idna" codec is IDNA 2003, which
    turns "faß.de" into "fass.de", another domain, and lets symbols such as ☃ through.
    """
    local, at, domain = value.rpartition("@")
    if not at:
        validate_email(value)  # says "Enter a valid email address."
    if not local.isascii():
        raise ValidationError(
            "The part before the @ must be ASCII: Stagemail does not send to internationalised "
            "mailbox names (SMTPUTF8).",
            code="non_ascii_mailbox",
        )
    if len(local) > MAX_LOCAL_PART:
        raise ValidationError(
            f"The part before the @ is {len(local)} characters long; RFC 5321 allows at most "
            f"{MAX_LOCAL_PART}.",
            code="mailbox_too_long",
        )
    if len(domain) > MAX_DOMAIN:
        raise ValidationError(
            f"The domain is {len(domain)} characters long; RFC 5321 allows at most {MAX_DOMAIN}.",
            code="domain_too_long",
        )
    address = f"{local}@{_ascii_domain(domain)}"
    if len(address) > MAX_ADDRESS:
        form = " in its ASCII (IDNA) form" if not domain.isascii() else ""
        raise ValidationError(
            f"The address is {len(address)} characters long{form}; RFC 5321 allows at most "
            f"{MAX_ADDRESS}.",
            code="address_too_long",
        )
    validate_email(address)
    return address


def address_error(address: str, error: ValidationError) -> str:
    """A wire_address error as a sentence that names the address, for a list of them."""
    if error.code == "invalid":
        return f"“{address}” is not a valid address."
    return f"“{address}”: {error.message}"


def validate_address(value: str) -> None:
    """wire_address as a field validator."""
    if value:
        wire_address(value)


def _ascii_domain(domain: str) -> str:
    if domain.startswith("["):  # an address literal, such as [192.0.2.1]
        return domain
    try:
        if not domain.isascii():
            return idna.encode(domain, uts46=True).decode("ascii")
        if "xn--" in domain.lower():  # already ASCII, but its A-labels must decode
            idna.decode(domain)
    except idna.IDNAError:
        raise ValidationError(
            f"“{domain}” is not a valid internationalised domain name (IDNA 2008, which "
            "allows letters and digits of any script but no symbols or emoji).",
            code="invalid_idna",
        ) from None
    return domain


def is_loopback(host: str) -> bool:
    """Whether a host names this machine (credentials may then travel unencrypted)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_PEM_BOUNDARY = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]+)-----")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_NOT_CERTIFICATES = {
    "CERTIFICATE REQUEST": "a certificate request (CSR)",
    "NEW CERTIFICATE REQUEST": "a certificate request (CSR)",
    "PUBLIC KEY": "a public key",
    "X509 CRL": "a certificate revocation list",
}
_PASTE_PEM = "-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----"


def validate_pem_certificates(value: str) -> None:
    """Accept one or more PEM CA certificates; say in plain words what is wrong with a paste.

    OpenSSL's own error text ("[X509] no certificate or crl found (_ssl.c:4106)") tells
    an admin nothing, so it is never shown.
    """
    if not value.strip():
        return
    blocks = _pem_blocks(value)
    labels = {label for label, _ in blocks}
    if any("PRIVATE KEY" in label for label in labels):
        raise ValidationError(
            "This paste holds a private key, which must stay secret on its server. Paste only "
            "the certificate of the authority (CA) that signed the server's certificate "
            f"({_PASTE_PEM}).",
            code="private_key",
        )
    if labels - {"CERTIFICATE"}:
        other = sorted(labels - {"CERTIFICATE"})[0]
        what = _NOT_CERTIFICATES.get(other, f"a “{other}” block")
        raise ValidationError(
            f"This paste holds {what}, not a certificate. Paste only certificates ({_PASTE_PEM}).",
            code="invalid_pem",
        )
    if not blocks:
        raise ValidationError(f"Paste PEM certificates ({_PASTE_PEM}).", code="invalid_pem")
    for number, (_, body) in enumerate(blocks, 1):
        _check_ca_certificate(f"Certificate {number}", body)
    try:
        ssl.create_default_context().load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError):
        raise ValidationError(
            "These certificates cannot be used for TLS. Export the CA certificate again, in "
            "PEM format.",
            code="invalid_pem",
        ) from None


def _pem_blocks(value: str) -> list[tuple[str, str | None]]:
    """Each PEM block's label and the text inside it; None when its END line is missing."""
    blocks: list[tuple[str, str | None]] = []
    label, start = None, 0
    for match in _PEM_BOUNDARY.finditer(value):
        boundary, name = match.groups()
        if boundary == "BEGIN":
            if label is not None:
                blocks.append((label, None))
            label, start = name, match.end()
        elif name == label:
            blocks.append((label, value[start : match.start()]))
            label = None
    if label is not None:
        blocks.append((label, None))
    return blocks


def _check_ca_certificate(which: str, body: str | None) -> None:
    if body is None:
        raise ValidationError(
            f"{which} has no “-----END CERTIFICATE-----” line: the paste was cut short.",
            code="truncated",
        )
    text = "".join(body.split())
    stray = _NOT_BASE64.search(text)
    if stray:
        raise ValidationError(
            f"{which} has characters that do not belong in a certificate (such as "
            f"“{stray[0]}”): it was changed while copying. Copy it again from the file.",
            code="invalid_pem",
        )
    try:
        der = base64.b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        der = b""
    expected = _der_length(der)
    if expected is not None and len(der) < expected:
        raise ValidationError(
            f"{which} was cut short: lines are missing between its BEGIN and END lines.",
            code="truncated",
        )
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise ValidationError(
            f"{which} is damaged: the text between its BEGIN and END lines is not a "
            "certificate. Copy it again from the file.",
            code="invalid_pem",
        ) from None
    _check_validity_and_role(which, certificate)


def _check_validity_and_role(which: str, certificate: x509.Certificate) -> None:
    now = datetime.datetime.now(datetime.UTC)
    name = _display_name(certificate.subject)
    if certificate.not_valid_after_utc < now:
        expired = certificate.not_valid_after_utc.date().isoformat()
        raise ValidationError(
            f"{which} (“{name}”) expired on {expired}. Paste the authority's current certificate.",
            code="expired",
        )
    if certificate.not_valid_before_utc > now:
        starts = certificate.not_valid_before_utc.date().isoformat()
        raise ValidationError(
            f"{which} (“{name}”) is not valid before {starts}; check this machine's clock, or "
            "paste the certificate in use today.",
            code="not_yet_valid",
        )
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    # A self-signed server certificate is its own authority; one issued by a CA is not,
    # and would stop being trusted when the server renews it.
    if not is_ca and certificate.issuer != certificate.subject:
        raise ValidationError(
            f"{which} (“{name}”) is a server's own certificate, not a certificate authority. "
            f"Paste the certificate of the authority that issued it, "
            f"“{_display_name(certificate.issuer)}”.",
            code="not_ca",
        )


def _der_length(der: bytes) -> int | None:
    """The length a DER SEQUENCE announces in its header, if `der` starts with one."""
    if len(der) < 2 or der[0] != 0x30:
        return None
    if der[1] < 0x80:
        return 2 + der[1]
    size = der[1] & 0x7F
    return 2 + size + int.from_bytes(der[2 : 2 + size]) if len(der) >= 2 + size else None


def _display_name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()
