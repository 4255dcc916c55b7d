"""copgate.lab.certs: a CA and one server certificate naming every lab host."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from copgate.lab.certs import make_pki

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)


def test_server_certificate_is_signed_by_the_ca_and_names_every_host(tmp_path: Path) -> None:
    address = ipaddress.ip_address("198.51.100.80")
    pki = make_pki(tmp_path, ["allowed.example", "www.google.com"], [address], NOW)
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    chain = x509.load_pem_x509_certificates(pki.cert.read_bytes())
    server = chain[0]
    assert chain[1] == ca
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["allowed.example", "www.google.com"]
    assert names.get_values_for_type(x509.IPAddress) == [address]
    assert server.not_valid_before_utc < NOW < server.not_valid_after_utc
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_key_matches_and_its_pin_is_chromiums_spki_hash(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["allowed.example"], [], NOW)
    key = serialization.load_pem_private_key(pki.key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    server = x509.load_pem_x509_certificates(pki.cert.read_bytes())[0]
    assert server.public_key() == key.public_key()
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pki.spki_sha256 == base64.b64encode(hashlib.sha256(spki).digest()).decode()
    assert pki.key.stat().st_mode & 0o077 == 0
