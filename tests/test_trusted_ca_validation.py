"""What an admin is told about a "Trusted CA certificates" paste: plain words, never OpenSSL's."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from emailconfig.forms.configurations import ConfigurationForm
from emailconfig.validators import validate_pem_certificates

NOW = datetime.datetime.now(datetime.UTC)


def error_for(paste: str) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_pem_certificates(paste)
    [message] = caught.value.messages
    assert "_ssl.c" not in message and "[X509" not in message and "PEM lib" not in message
    return message


def self_signed(*, days: tuple[int, int] = (-1, 30), ca: bool = True) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Relay CA")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + datetime.timedelta(days=days[0]))
        .not_valid_after(NOW + datetime.timedelta(days=days[1]))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def test_a_ca_certificate_or_several_are_accepted(certificates):
    validate_pem_certificates(certificates.ca_pem)
    validate_pem_certificates(certificates.ca_pem + "\n" + self_signed())
    validate_pem_certificates("Relay CA, from the admin:\n" + certificates.ca_pem)
    validate_pem_certificates("  \n")


def test_a_self_signed_server_certificate_is_accepted():
    # A private relay's own self-signed certificate is its own authority.
    validate_pem_certificates(self_signed(ca=False))


def test_text_without_a_certificate_block_says_what_to_paste():
    message = error_for("MIIBfDCCASKgAwIBAgIUZZj6bTjJojLckVksVQ8s3lLPGqQwCgYIKoZIzj0EAwIw")
    assert "-----BEGIN CERTIFICATE-----" in message


def test_a_private_key_is_refused_and_never_shown():
    key = private_key_pem()
    message = error_for(key)
    assert "private key" in message
    assert key.splitlines()[1] not in message
    assert "private key" in error_for(self_signed() + key)  # even next to a certificate


def test_a_certificate_request_is_named():
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    assert "certificate request" in error_for(csr)


def test_a_paste_cut_short_is_reported_as_such(certificates):
    lines = certificates.ca_pem.splitlines()
    without_end = "\n".join(lines[:-1])
    assert "cut short" in error_for(without_end)
    missing_lines = "\n".join([lines[0], lines[1], lines[-1]])
    message = error_for(missing_lines)
    assert "cut short" in message and "certificate 1" in message.lower()


def test_changed_characters_are_reported(certificates):
    lines = certificates.ca_pem.splitlines()
    lines[2] = lines[2][:10] + "“quoted”" + lines[2][18:]
    assert "characters" in error_for("\n".join(lines))
    lines = certificates.ca_pem.splitlines()
    lines[2] = "A" * len(lines[2])  # still base64, no longer a certificate
    assert "damaged" in error_for("\n".join(lines))


def test_a_server_certificate_issued_by_a_ca_is_refused_with_its_issuer(certificates):
    leaf = certificates.localhost[0].read_text()
    message = error_for(leaf)
    assert "not a certificate authority" in message
    assert "Stagemail Test CA" in message  # the certificate to paste instead


def test_an_expired_certificate_is_refused_with_its_date():
    message = error_for(self_signed(days=(-60, -2)))
    expired_on = (NOW - datetime.timedelta(days=2)).date().isoformat()
    assert "expired" in message and expired_on in message
    assert "not valid before" in error_for(self_signed(days=(3, 30)))


@pytest.mark.django_db
def test_the_form_shows_the_plain_words_on_the_field():
    form = ConfigurationForm(data={"trusted_ca": private_key_pem()})
    assert "private key" in form.errors["trusted_ca"][0]
