"""Ed25519 keys and signatures in the signify/usign file format.

OpenBSD's signify and OpenWrt's usign share one format, so operators sign and
check releases with tools they already have (`signify -S`, `signify -V`,
`usign -V`). Each file is two lines: ``untrusted comment: ...`` and one base64
line. The decoded line is:

    public key   b"Ed" + keynum (8) + Ed25519 public key (32)
    signature    b"Ed" + keynum (8) + Ed25519 signature (64) of the whole file
    secret key   b"Ed" + b"BK" + kdf rounds (u32, big-endian) + salt (16)
                 + checksum (8) + keynum (8) + secret key (64: seed + public key)

The keynum is random; it only says which key made a signature, so a verifier
picks the key without trying them all. The secret key is the unencrypted
form signify writes with ``-n`` (kdf rounds 0: the key is XORed with nothing);
its checksum is the first 8 bytes of SHA-512 of the 64-byte secret key.

The Ed25519 arithmetic is ``cryptography``'s, imported inside the functions
that need it so a daemon that never verifies does not load it. This module
never reads files, never reads the clock and never holds a key in a global.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from copgate.cryptoimport import importing
from copgate.release.errors import BadSignature, UnknownKey

PKALG = b"Ed"
"""The one algorithm signify and usign know: Ed25519."""
KDFALG = b"BK"
"""bcrypt_pbkdf, named in every secret key even when rounds are 0."""
KEYNUM_SIZE = 8
PUBLIC_SIZE = 32  # RFC 8032 §5.1.5
SEED_SIZE = 32  # RFC 8032 §5.1.5
SIGNATURE_SIZE = 64  # RFC 8032 §5.1.6
SECRET_SIZE = SEED_SIZE + PUBLIC_SIZE  # signify keeps the seed and the public key
SALT_SIZE = 16
CHECKSUM_SIZE = 8
COMMENT_PREFIX = "untrusted comment: "
MAX_COMMENT = 1024  # signify's COMMENTMAXLEN, the line included
MAX_FILE_TEXT = 4096  # a key or signature file is two short lines

_PUBLIC = struct.Struct(f">2s{KEYNUM_SIZE}s{PUBLIC_SIZE}s")
_SIGNATURE = struct.Struct(f">2s{KEYNUM_SIZE}s{SIGNATURE_SIZE}s")
_SECRET = struct.Struct(f">2s2sI{SALT_SIZE}s{CHECKSUM_SIZE}s{KEYNUM_SIZE}s{SECRET_SIZE}s")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A signify public key."""

    keynum: bytes
    """8 random bytes that name the key in signatures made with it."""
    key: bytes
    """The 32-byte Ed25519 public key."""

    @property
    def keynum_hex(self) -> str:
        """The keynum as lower-case hex, as key sets list revoked keys."""
        return self.keynum.hex()


@dataclass(frozen=True, slots=True)
class Signature:
    """A detached signify signature."""

    keynum: bytes
    """The keynum of the key that made it."""
    sig: bytes
    """The 64-byte Ed25519 signature."""


@dataclass(frozen=True, slots=True)
class SecretKey:
    """An unencrypted signify secret key (``signify -G -n``)."""

    keynum: bytes
    seed: bytes
    """The 32-byte Ed25519 seed (RFC 8032 §5.1.5's private key)."""
    public: bytes
    """The 32-byte public key, as signify stores it after the seed."""

    @property
    def public_key(self) -> PublicKey:
        """The public half."""
        return PublicKey(keynum=self.keynum, key=self.public)


def _payload(text: str, where: str, error: type[Exception]) -> bytes:
    """The decoded base64 line of a signify file, or of a bare base64 line."""
    if len(text) > MAX_FILE_TEXT:
        raise error(f"{where}: {len(text)} characters, too long for a signify file")
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines:
        raise error(f"{where}: empty (unsigned, or the download failed)")
    if len(lines) == 2:
        comment, line = lines
        if not comment.startswith(COMMENT_PREFIX) or len(comment) >= MAX_COMMENT:
            raise error(f"{where}: first line must be 'untrusted comment: ...'")
    elif len(lines) == 1:
        line = lines[0]
    else:
        raise error(f"{where}: expected a comment line and a base64 line, got {len(lines)} lines")
    try:
        return base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{where}: not base64 ({exc})") from None


def read_public_key(text: str, where: str) -> PublicKey:
    """A public key from a signify ``.pub`` file's text or its bare base64 line."""
    raw = _payload(text, where, BadSignature)
    if len(raw) != _PUBLIC.size:
        raise BadSignature(f"{where}: public key of {len(raw)} bytes, expected {_PUBLIC.size}")
    alg, keynum, key = _PUBLIC.unpack(raw)
    if alg != PKALG:
        raise BadSignature(f"{where}: public key algorithm {alg!r}, only {PKALG!r} is known")
    return PublicKey(keynum=keynum, key=key)


def read_signature(text: str, where: str) -> Signature:
    """A signature from a signify ``.sig`` file's text."""
    raw = _payload(text, where, BadSignature)
    if len(raw) != _SIGNATURE.size:
        raise BadSignature(f"{where}: signature of {len(raw)} bytes, expected {_SIGNATURE.size}")
    alg, keynum, sig = _SIGNATURE.unpack(raw)
    if alg != PKALG:
        raise BadSignature(f"{where}: signature algorithm {alg!r}, only {PKALG!r} is known")
    return Signature(keynum=keynum, sig=sig)


def read_secret_key(text: str, where: str) -> SecretKey:
    """An unencrypted secret key from a signify ``.sec`` file's text."""
    raw = _payload(text, where, BadSignature)
    if len(raw) != _SECRET.size:
        raise BadSignature(f"{where}: secret key of {len(raw)} bytes, expected {_SECRET.size}")
    alg, kdfalg, rounds, _salt, checksum, keynum, secret = _SECRET.unpack(raw)
    if alg != PKALG or kdfalg != KDFALG:
        raise BadSignature(f"{where}: secret key algorithms {alg!r}/{kdfalg!r}, expected Ed/BK")
    if rounds != 0:
        raise BadSignature(
            f"{where}: secret key is passphrase-protected ({rounds} kdf rounds); "
            "copgate signs with keys made by 'signify -G -n' or 'copgate dist keygen'"
        )
    if hashlib.sha512(secret).digest()[:CHECKSUM_SIZE] != checksum:
        raise BadSignature(f"{where}: secret key checksum mismatch (corrupted key file)")
    seed, public = secret[:SEED_SIZE], secret[SEED_SIZE:]
    if _public_of(seed) != public:
        raise BadSignature(f"{where}: secret key's public half does not match its seed")
    return SecretKey(keynum=keynum, seed=seed, public=public)


def verify(
    message: bytes, signature: Signature, keys: Iterable[PublicKey], where: str
) -> PublicKey:
    """The key among ``keys`` whose keynum the signature names and that verifies it.

    Raises UnknownKey when no key has the signature's keynum, BadSignature
    when that key does not verify the message.
    """
    # Imported here: a daemon that never verifies does not load cryptography.
    with importing():
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

    key = next((k for k in keys if k.keynum == signature.keynum), None)
    if key is None:
        raise UnknownKey(f"{where}: signed by key {signature.keynum.hex()}, not a trusted key")
    try:
        Ed25519PublicKey.from_public_bytes(key.key).verify(signature.sig, message)
    except (InvalidSignature, ValueError):
        raise BadSignature(
            f"{where}: signature by key {key.keynum_hex} does not verify (tampered or wrong file)"
        ) from None
    return key


def generate_key(entropy: bytes | None = None) -> SecretKey:
    """A new key pair; ``entropy`` (40 bytes: seed then keynum) is for tests only."""
    raw = os.urandom(SEED_SIZE + KEYNUM_SIZE) if entropy is None else entropy
    if len(raw) != SEED_SIZE + KEYNUM_SIZE:
        raise ValueError(f"entropy must be {SEED_SIZE + KEYNUM_SIZE} bytes")
    seed, keynum = raw[:SEED_SIZE], raw[SEED_SIZE:]
    return SecretKey(keynum=keynum, seed=seed, public=_public_of(seed))


def sign(message: bytes, secret: SecretKey) -> Signature:
    """The signify signature of ``message`` (the whole file) by ``secret``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    sig = Ed25519PrivateKey.from_private_bytes(secret.seed).sign(message)
    return Signature(keynum=secret.keynum, sig=sig)


def public_key_line(key: PublicKey) -> str:
    """The base64 line of a public key, as key sets and config files list it."""
    return base64.b64encode(_PUBLIC.pack(PKALG, key.keynum, key.key)).decode("ascii")


def format_public_key(key: PublicKey, comment: str = "signify public key") -> str:
    """The text of a ``.pub`` file."""
    return f"{COMMENT_PREFIX}{_comment(comment)}\n{public_key_line(key)}\n"


def format_signature(signature: Signature, comment: str = "verify with key.pub") -> str:
    """The text of a ``.sig`` file."""
    raw = _SIGNATURE.pack(PKALG, signature.keynum, signature.sig)
    return f"{COMMENT_PREFIX}{_comment(comment)}\n{base64.b64encode(raw).decode('ascii')}\n"


def format_secret_key(secret: SecretKey, comment: str = "signify secret key") -> str:
    """The text of an unencrypted ``.sec`` file, as ``signify -G -n`` writes it."""
    full = secret.seed + secret.public
    checksum = hashlib.sha512(full).digest()[:CHECKSUM_SIZE]
    salt = bytes(SALT_SIZE)  # unused with 0 kdf rounds; signify writes random bytes
    raw = _SECRET.pack(PKALG, KDFALG, 0, salt, checksum, secret.keynum, full)
    return f"{COMMENT_PREFIX}{_comment(comment)}\n{base64.b64encode(raw).decode('ascii')}\n"


def _comment(comment: str) -> str:
    """A comment that keeps the file two lines and within signify's limit."""
    one_line = " ".join(comment.split())
    if len(COMMENT_PREFIX) + len(one_line) >= MAX_COMMENT:
        raise ValueError(f"comment of {len(one_line)} characters is too long for signify")
    return one_line


def _public_of(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: PLC0415

    private = Ed25519PrivateKey.from_private_bytes(seed)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
