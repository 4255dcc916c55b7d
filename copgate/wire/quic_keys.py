"""The client Initial keys of QUIC v1, v2 and draft-29, and a small cache of them.

Initial packets are encrypted with keys that anyone can derive from the
Destination Connection ID of the client's first Initial (RFC 9001 §5.2):
they protect against tampering on the path, not against reading. This module
derives the client's keys (AEAD_AES_128_GCM key and IV, AES-128 header
protection key) for each supported version, removes header protection from a
sample (RFC 9001 §5.4.3) and opens a payload (RFC 9001 §5.3).

It only ever reads: it derives no server keys, never encrypts a packet
payload, and does all its cryptography through the ``cryptography`` package
(no hand-written primitives). A failed AEAD tag is a ``WireError``: the bytes
are not what a client Initial for that DCID would be.

``cryptography`` is imported at the first derivation, not with this module:
it adds about 7 MB to a process (its Rust binding carries its own OpenSSL),
the daemon imports this module at start, and a network without QUIC (or a
daemon before its first QUIC Initial) never needs it. The import runs in
``copgate.cryptoimport.importing()``: ``copgate run`` gives back the pages
the binding's loading touched and its use does not (``copgate.edges.residency``).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from copgate.cryptoimport import importing
from copgate.errors import WireError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.ciphers import (
        Cipher,
        CipherContext,
        algorithms,
        modes,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.hashes import HashAlgorithm
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

QUIC_V1 = 0x00000001  # RFC 9000 §15
QUIC_V2 = 0x6B3343CF  # RFC 9369 §3.1
QUIC_DRAFT29 = 0xFF00001D  # draft-ietf-quic-transport-29 §15

_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")  # RFC 9001 §5.2
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")  # RFC 9369 §3.3.1
_SALT_DRAFT29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # draft-29 §5.2

AEAD_KEY_LENGTH = 16  # AEAD_AES_128_GCM, RFC 9001 §5.2 and RFC 5116 §5.1
AEAD_IV_LENGTH = 12  # RFC 9001 §5.3: the nonce is as long as the IV, 12 for AES-GCM
AEAD_TAG_LENGTH = 16  # RFC 5116 §5.1: AEAD_AES_128_GCM expands by 16 bytes
HP_KEY_LENGTH = 16  # RFC 9001 §5.4.3: AES-128 header protection
HP_SAMPLE_LENGTH = 16  # RFC 9001 §5.4.2: one AES block
SECRET_LENGTH = 32  # RFC 9001 §5.2: SHA-256 output
KEY_CACHE_ENTRIES = 256
"""How many (version, DCID) key sets the default cache holds. One per QUIC
handshake in progress is enough; 256 covers a busy home or school LAN, and a
miss costs only a derivation (about 25 µs)."""


class InitialAuthError(WireError):
    """An Initial packet fails authentication with the client keys tried."""


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What differs between the supported versions for client Initials."""

    salt: bytes
    """The initial_salt of RFC 9001 §5.2 (or its version's equivalent)."""
    label_prefix: str
    """"quic" for v1 and draft-29; "quicv2" for v2 (RFC 9369 §3.3.2)."""
    initial_type: int
    """The long-header packet type bits of an Initial (RFC 9369 §3.2)."""
    zero_rtt_type: int
    handshake_type: int
    retry_type: int


VERSIONS: dict[int, VersionSpec] = {
    # RFC 9000 §17.2 Table 5: Initial 0, 0-RTT 1, Handshake 2, Retry 3.
    QUIC_V1: VersionSpec(_SALT_V1, "quic", 0b00, 0b01, 0b10, 0b11),
    QUIC_DRAFT29: VersionSpec(_SALT_DRAFT29, "quic", 0b00, 0b01, 0b10, 0b11),
    # RFC 9369 §3.2: Initial 1, 0-RTT 2, Handshake 3, Retry 0.
    QUIC_V2: VersionSpec(_SALT_V2, "quicv2", 0b01, 0b10, 0b11, 0b00),
}


class _Crypto(NamedTuple):
    """The ``cryptography`` names this module uses, imported once (``_crypto``)."""

    invalid_tag: type[Exception]
    sha256: Callable[[], HashAlgorithm]
    hkdf: type[HKDF]
    hkdf_expand: type[HKDFExpand]
    cipher: type[Cipher[modes.ECB]]
    aes: type[algorithms.AES]
    ecb: type[modes.ECB]
    aesgcm: type[AESGCM]


@functools.cache
def _crypto() -> _Crypto:
    with importing():
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - lazy, see the docstring
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.ciphers import (  # noqa: PLC0415
            Cipher,
            algorithms,
            modes,
        )
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand  # noqa: PLC0415

    return _Crypto(
        InvalidTag, hashes.SHA256, HKDF, HKDFExpand, Cipher, algorithms.AES, modes.ECB, AESGCM
    )


def hkdf_label(label: str, length: int) -> bytes:
    """The HkdfLabel structure of RFC 8446 §7.1 with an empty context."""
    full = b"tls13 " + label.encode("ascii")
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"


def _expand(secret: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(secret, info, length) with SHA-256, RFC 5869 §2.3: with an
    HkdfLabel as ``info`` this is HKDF-Expand-Label of RFC 8446 §7.1."""
    crypto = _crypto()
    return crypto.hkdf_expand(crypto.sha256(), length, info).derive(secret)


_CLIENT_IN = hkdf_label("client in", SECRET_LENGTH)
# The three HkdfLabels each version expands its keys with, built once: building
# them per derivation cost about 3 µs of a cold Initial.
_KEY_LABELS: dict[str, tuple[bytes, bytes, bytes]] = {
    prefix: (
        hkdf_label(f"{prefix} key", AEAD_KEY_LENGTH),
        hkdf_label(f"{prefix} iv", AEAD_IV_LENGTH),
        hkdf_label(f"{prefix} hp", HP_KEY_LENGTH),
    )
    for prefix in {spec.label_prefix for spec in VERSIONS.values()}
}


def client_initial_secret(version: int, dcid: bytes) -> bytes:
    """client_initial_secret of RFC 9001 §5.2 for ``dcid``.

    HKDF (extract then expand) with the "client in" label as info is exactly
    HKDF-Expand-Label(HKDF-Extract(salt, dcid), "client in", "", 32); it works
    with every ``cryptography`` release the project supports.
    """
    spec = VERSIONS[version]
    crypto = _crypto()
    return crypto.hkdf(crypto.sha256(), SECRET_LENGTH, spec.salt, _CLIENT_IN).derive(dcid)


@dataclass(frozen=True, slots=True)
class InitialKeys:
    """The client's Initial packet protection keys for one (version, DCID)."""

    key: bytes
    """AEAD_AES_128_GCM key ("quic key" / "quicv2 key")."""
    iv: bytes
    """AEAD IV ("quic iv" / "quicv2 iv"), XORed with the packet number."""
    hp: bytes
    """Header protection key ("quic hp" / "quicv2 hp")."""
    _aead: AESGCM = field(repr=False, compare=False)
    _hp_ecb: CipherContext = field(repr=False, compare=False)
    """An AES-ECB encryptor kept open: ECB is stateless between whole blocks,
    and opening one costs more than using it. Like the cache, not for use from
    several threads at once (the daemon reads packets in one)."""

    def header_mask(self, sample: bytes) -> bytes:
        """AES-ECB(hp, sample), RFC 9001 §5.4.3; ``sample`` is 16 bytes."""
        if len(sample) != HP_SAMPLE_LENGTH:
            # A short block would stay buffered in the context and shift every later mask.
            raise ValueError(f"a header protection sample is {HP_SAMPLE_LENGTH} bytes")
        return self._hp_ecb.update(sample)

    def open(self, packet_number: int, header: bytes, sealed: bytes) -> bytes:
        """The plaintext of ``sealed`` (ciphertext and tag), RFC 9001 §5.3.

        The nonce is the IV XORed with the packet number, left-padded to the
        IV's length; the AAD is the unprotected header. A wrong key, a
        mutated byte or a server's Initial fail here as ``WireError``.
        """
        nonce_int = int.from_bytes(self.iv, "big") ^ packet_number
        nonce = nonce_int.to_bytes(AEAD_IV_LENGTH, "big")
        try:
            return self._aead.decrypt(nonce, sealed, header)
        except _crypto().invalid_tag:
            raise InitialAuthError("QUIC Initial fails authentication (AEAD tag)") from None


def derive_client_initial_keys(version: int, dcid: bytes) -> InitialKeys:
    """The client Initial keys of RFC 9001 §5.2 (RFC 9369 §3.3 for v2).

    Raises ``KeyError`` for an unsupported version: callers check first.
    """
    key_label, iv_label, hp_label = _KEY_LABELS[VERSIONS[version].label_prefix]
    secret = client_initial_secret(version, dcid)
    key = _expand(secret, key_label, AEAD_KEY_LENGTH)
    iv = _expand(secret, iv_label, AEAD_IV_LENGTH)
    hp = _expand(secret, hp_label, HP_KEY_LENGTH)
    crypto = _crypto()
    ecb = crypto.cipher(crypto.aes(hp), crypto.ecb()).encryptor()
    return InitialKeys(key, iv, hp, crypto.aesgcm(key), ecb)


class InitialKeyCache:
    """Client Initial keys by (version, DCID), least recently used evicted.

    Deriving keys costs four HKDF calls and two cipher set-ups; a ClientHello
    often spans several Initials with the same DCID, and retransmissions
    repeat them. The cache holds at most ``limit`` entries, so a flood of
    fresh DCIDs costs derivations, never memory.
    """

    __slots__ = ("_entries", "hits", "limit", "misses")

    def __init__(self, limit: int = KEY_CACHE_ENTRIES) -> None:
        if limit < 1:
            raise ValueError("an InitialKeyCache holds at least one entry")
        self.limit = limit
        self._entries: OrderedDict[tuple[int, bytes], InitialKeys] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, version: int, dcid: bytes) -> InitialKeys:
        """The keys for (version, dcid), derived on a miss."""
        entry_key = (version, dcid)
        keys = self._entries.get(entry_key)
        if keys is not None:
            self._entries.move_to_end(entry_key)
            self.hits += 1
            return keys
        self.misses += 1
        keys = derive_client_initial_keys(version, dcid)
        self._entries[entry_key] = keys
        if len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return keys

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_key: object) -> bool:
        return entry_key in self._entries
