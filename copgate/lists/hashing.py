"""The two hashes of the list cache: a prefilter hash and a keyed fingerprint.

Both are part of the file format (docs/lists-cache.md), so they never change
within a format version: the same name must encode the same way in every
release, or deltas between releases would rewrite the whole file.

- ``prefilter_hash``: CRC-32 (zlib, the ISO-HDLC polynomial, start value 0) of
  the name. Cheap (tens of nanoseconds in CPython), it picks one bit of the
  prefilter bitmap; a clear bit proves the name is not listed, so most
  probes of unlisted names never pay for the fingerprint.
- ``fingerprint``: BLAKE2s (RFC 7693) with an 8-byte digest and a public
  16-byte key. BLAKE2s rather than BLAKE2b: its 32-bit arithmetic suits
  MIPS routers, and even here it costs about 18 % less per name. The key buys
  nothing against crafted collisions (it ships in every file); it only
  separates copgate's hashes from anyone else's, and it stays fixed so that
  fingerprints are stable across releases.

This module computes hashes only; it never reads files or the clock.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

FINGERPRINT_KEY = b"copgate-lists-01"
"""The public BLAKE2s key of format version 1 (16 bytes); it ships in every file."""
FINGERPRINT_SIZE = 8
"""Bytes of BLAKE2s output: 4 select the bucket, 4 are stored as the remainder."""

prefilter_hash: Callable[[bytes], int] = zlib.crc32
"""CRC-32 of the name's ASCII bytes, an unsigned 32-bit int."""


def keyed_hasher(key: bytes = FINGERPRINT_KEY) -> hashlib.blake2s:
    """A BLAKE2s state already keyed: ``copy()`` it, ``update(name)``, ``digest()``.

    Copying a keyed state costs far less than keying a new one: BLAKE2
    compresses the key as a block of its own, so ``blake2s(data, key=...)``
    pays for two compressions and ``copy()`` of a keyed state for one. Hot
    loops use this directly; everything else calls ``fingerprint``.
    """
    return hashlib.blake2s(digest_size=FINGERPRINT_SIZE, key=key)


def fingerprinter(key: bytes = FINGERPRINT_KEY) -> Callable[[bytes], bytes]:
    """A function computing the 8-byte fingerprint of a name under ``key``."""
    keyed = keyed_hasher(key)

    def fingerprint(name: bytes) -> bytes:
        hasher = keyed.copy()
        hasher.update(name)
        return hasher.digest()

    return fingerprint


fingerprint = fingerprinter()
"""The fingerprint under the format's fixed key."""
