"""Builders shared by the release tests: fixed keys, signed key sets and manifests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from copgate.release.manifest import (
    CACHE_ARTEFACT,
    Artefact,
    Delta,
    KeySet,
    Manifest,
)
from copgate.release.signify import SecretKey, format_signature, generate_key, sign

# Fixed entropy: the same keys in every run, so a failure reproduces.
ROOT = generate_key(bytes(range(40)))
ROOT_2 = generate_key(bytes(range(50, 90)))
RELEASE_KEY = generate_key(bytes(range(100, 140)))
RELEASE_KEY_2 = generate_key(bytes(range(140, 180)))
STRANGER = generate_key(bytes(range(200, 240)))

CREATED = datetime(2026, 12, 1, tzinfo=UTC)
EXPIRES = CREATED + timedelta(days=7)
CACHE_BYTES = b"the compiled cache of release 7\n"


def signature(data: bytes, key: SecretKey) -> bytes:
    """The bytes of a .sig file of ``data`` by ``key``."""
    return format_signature(sign(data, key)).encode()


def keyset(
    version: int = 1,
    keys: Sequence[SecretKey] = (RELEASE_KEY,),
    revoked: Sequence[SecretKey] = (),
) -> KeySet:
    return KeySet(
        version=version,
        created=CREATED,
        keys=tuple(k.public_key for k in keys),
        revoked=frozenset(k.public_key.keynum_hex for k in revoked),
    )


def artefact(release: int = 7, data: bytes = CACHE_BYTES) -> Artefact:
    return Artefact(
        name=CACHE_ARTEFACT,
        path=f"releases/{release}/{CACHE_ARTEFACT}",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def manifest(
    release: int = 7,
    created: datetime = CREATED,
    expires: datetime = EXPIRES,
    keyset_version: int = 1,
    data: bytes = CACHE_BYTES,
    deltas: tuple[Delta, ...] = (),
) -> Manifest:
    return Manifest(
        release=release,
        created=created,
        expires=expires,
        keyset=keyset_version,
        artefacts={CACHE_ARTEFACT: artefact(release, data)},
        deltas=deltas,
    )
