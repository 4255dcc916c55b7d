"""Client Initial keys: RFC 9001 §A.1, RFC 9369 §A.1 and draft-29 §A.1 vectors, the cache."""

from __future__ import annotations

import subprocess
import sys

import pytest

from copgate.errors import WireError
from copgate.wire.quic_keys import (
    QUIC_DRAFT29,
    QUIC_V1,
    QUIC_V2,
    InitialAuthError,
    InitialKeyCache,
    client_initial_secret,
    derive_client_initial_keys,
    hkdf_label,
)
from tests.wire.quic_vectors import (
    D29_CLIENT_SECRET,
    D29_HP,
    D29_IV,
    D29_KEY,
    RFC_DCID,
    V1_CLIENT_SECRET,
    V1_HP,
    V1_INFO_CLIENT_IN,
    V1_INFO_QUIC_HP,
    V1_INFO_QUIC_IV,
    V1_INFO_QUIC_KEY,
    V1_IV,
    V1_KEY,
    V1_MASK,
    V1_PACKET,
    V1_PLAIN_HEADER,
    V1_SAMPLE,
    V2_CLIENT_SECRET,
    V2_HP,
    V2_IV,
    V2_KEY,
    V2_MASK,
    V2_SAMPLE,
)


def test_hkdf_labels_match_rfc_9001_a1() -> None:
    assert hkdf_label("client in", 32) == V1_INFO_CLIENT_IN
    assert hkdf_label("quic key", 16) == V1_INFO_QUIC_KEY
    assert hkdf_label("quic iv", 12) == V1_INFO_QUIC_IV
    assert hkdf_label("quic hp", 16) == V1_INFO_QUIC_HP


@pytest.mark.parametrize(
    ("version", "secret", "key", "iv", "hp"),
    [
        pytest.param(QUIC_V1, V1_CLIENT_SECRET, V1_KEY, V1_IV, V1_HP, id="rfc9001-A.1"),
        pytest.param(QUIC_V2, V2_CLIENT_SECRET, V2_KEY, V2_IV, V2_HP, id="rfc9369-A.1"),
        pytest.param(QUIC_DRAFT29, D29_CLIENT_SECRET, D29_KEY, D29_IV, D29_HP, id="draft29-A.1"),
    ],
)
def test_client_initial_keys_match_the_vectors(
    version: int, secret: bytes, key: bytes, iv: bytes, hp: bytes
) -> None:
    assert client_initial_secret(version, RFC_DCID) == secret
    keys = derive_client_initial_keys(version, RFC_DCID)
    assert (keys.key, keys.iv, keys.hp) == (key, iv, hp)


def test_versions_derive_different_keys_from_one_dcid() -> None:
    keys = {derive_client_initial_keys(v, RFC_DCID).key for v in (QUIC_V1, QUIC_V2, QUIC_DRAFT29)}
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("version", "sample", "mask"),
    [
        pytest.param(QUIC_V1, V1_SAMPLE, V1_MASK, id="rfc9001-A.2"),
        pytest.param(QUIC_V2, V2_SAMPLE, V2_MASK, id="rfc9369-A.2"),
    ],
)
def test_header_mask_matches_the_vectors(version: int, sample: bytes, mask: bytes) -> None:
    keys = derive_client_initial_keys(version, RFC_DCID)
    assert keys.header_mask(sample)[:5] == mask
    # The ECB context is kept open between packets: a second use gives the same mask.
    assert keys.header_mask(sample)[:5] == mask


def test_open_decrypts_rfc_9001_a2_and_refuses_a_changed_byte() -> None:
    keys = derive_client_initial_keys(QUIC_V1, RFC_DCID)
    sealed = V1_PACKET[len(V1_PLAIN_HEADER) :]
    payload = keys.open(2, V1_PLAIN_HEADER, sealed)
    assert len(payload) == 1162
    assert payload.startswith(bytes.fromhex("060040f1010000ed0303"))
    with pytest.raises(InitialAuthError):
        keys.open(3, V1_PLAIN_HEADER, sealed)  # wrong packet number, so wrong nonce
    with pytest.raises(WireError):
        keys.open(2, V1_PLAIN_HEADER[:-1] + b"\x03", sealed)  # header is the AAD
    with pytest.raises(WireError):
        keys.open(2, V1_PLAIN_HEADER, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(WireError):
        keys.open(2, V1_PLAIN_HEADER, b"")  # shorter than a tag


def test_cache_derives_once_per_version_and_dcid() -> None:
    cache = InitialKeyCache(limit=4)
    first = cache.get(QUIC_V1, RFC_DCID)
    assert cache.get(QUIC_V1, RFC_DCID) is first
    assert cache.get(QUIC_V2, RFC_DCID) is not first
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 2)
    assert (QUIC_V1, RFC_DCID) in cache


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = InitialKeyCache(limit=3)
    dcids = [bytes([i]) * 8 for i in range(4)]
    for dcid in dcids[:3]:
        cache.get(QUIC_V1, dcid)
    cache.get(QUIC_V1, dcids[0])  # used again: dcids[1] is now the oldest
    cache.get(QUIC_V1, dcids[3])
    assert len(cache) == 3
    assert (QUIC_V1, dcids[1]) not in cache
    assert all((QUIC_V1, d) in cache for d in (dcids[0], dcids[2], dcids[3]))


def test_default_cache_limit_is_named_and_holds() -> None:
    cache = InitialKeyCache()
    for i in range(cache.limit + 10):
        cache.get(QUIC_V1, i.to_bytes(8, "big"))
    assert len(cache) == cache.limit == 256


def test_cache_refuses_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="at least one"):
        InitialKeyCache(limit=0)


def test_header_mask_refuses_a_sample_that_is_not_one_block() -> None:
    keys = derive_client_initial_keys(QUIC_V1, RFC_DCID)
    with pytest.raises(ValueError, match="16 bytes"):
        keys.header_mask(V1_SAMPLE[:15])
    assert keys.header_mask(V1_SAMPLE)[:5] == V1_MASK  # nothing was left buffered


LAZY_PROBE = """
import sys
import copgate.wire.quic, copgate.wire.flows
before = "cryptography" in sys.modules
from copgate.wire.quic_keys import derive_client_initial_keys
derive_client_initial_keys(1, bytes(8))
print(before, "cryptography" in sys.modules)
"""


def test_cryptography_is_imported_at_the_first_derivation_not_with_the_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]
