"""A throw-away certificate authority and one server certificate for the lab.

The CA exists only in the run's directory; clients are told to trust it
(curl ``--cacert``, ``openssl s_client -CAfile``, aioquic's ``cafile``,
Chromium's ``--ignore-certificate-errors-spki-list``), so nothing is added
to the system's trust store. The server certificate names every lab host
(subject alternative names), so one nginx and one QUIC server serve them all.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=2)
"""A lab certificate outlives any run and is useless a day later."""
CLOCK_SKEW = datetime.timedelta(hours=1)
"""Back-dating, so that a namespace's client never sees a not-yet-valid cert."""


@dataclass(frozen=True, slots=True)
class TestPki:
    """Where the lab's CA and server certificate are, and the server key's pin."""

    __test__ = False  # not a pytest test class despite its name

    ca_cert: Path
    cert: Path
    """The server certificate followed by the CA (a full chain for nginx)."""
    key: Path
    spki_sha256: str
    """Base64 SHA-256 of the server key's SubjectPublicKeyInfo, for Chromium."""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "copgate lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_pki(
    directory: Path,
    names: Iterable[str],
    addresses: Iterable[IPv4Address | IPv6Address],
    now: datetime.datetime,
) -> TestPki:
    """Write a CA and a server certificate for ``names`` and ``addresses`` into ``directory``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("copgate lab CA")
    not_before, not_after = now - CLOCK_SKEW, now + VALIDITY
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(address) for address in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("copgate lab server"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    return TestPki(ca_path, cert_path, key_path, pin)
