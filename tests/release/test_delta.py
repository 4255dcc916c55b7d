"""Deltas: make on the distributor's side, apply by streaming on the gateway's.

Every delta must rebuild the new file exactly; a malformed one, or one made
for another base, is refused with BadDelta, never a crash or a wrong file.
"""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.lists.compile import EntryTable, build_cache
from copgate.release.artefact import apply_delta
from copgate.release.delta import make_delta
from copgate.release.delta_format import HEADER, MAGIC, Op, svarint, varint
from copgate.release.errors import BadDelta

BUILD_TIME = 1_767_225_600


def cache(names: list[str], release: int, white: tuple[str, ...] = ()) -> bytes:
    table = EntryTable()
    table.add_names(names, frozenset({"adult"}))
    table.add_names(names[: len(names) // 50], frozenset({"adult", "gambling"}))
    table.add_names(list(white), frozenset({"allowed"}), white=True)
    data, _report = build_cache(table, build_time=BUILD_TIME + release, release=release)
    return data


def corpus(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(40):x}.site{i % 101}.example" for i in range(count)]


def changed(names: list[str], fraction: float, seed: int = 2) -> list[str]:
    """Remove fraction/2 of the names and add as many new ones (deterministic)."""
    rng = random.Random(seed)
    k = int(len(names) * fraction / 2)
    removed = set(rng.sample(range(len(names)), k))
    kept = [name for i, name in enumerate(names) if i not in removed]
    return kept + [f"added{i}.new{i % 7}.example" for i in range(k)]


def apply(old: bytes, delta: bytes, tmp_path: Path, max_size: int = 10**8) -> bytes:
    base = tmp_path / "old.cache"
    base.write_bytes(old)
    out = io.BytesIO()
    apply_delta(base, io.BytesIO(delta), out, max_size)
    return out.getvalue()


NAMES = corpus(20_000)
OLD = cache(NAMES, 1)
NEW = cache(changed(NAMES, 0.01), 2)


def test_a_one_percent_change_rebuilds_exactly_and_is_small(tmp_path: Path) -> None:
    delta = make_delta(OLD, NEW)
    assert apply(OLD, delta, tmp_path) == NEW
    # Far below the 3% target: a plain byte diff pays for every bucket offset.
    assert len(delta) < 0.03 * len(NEW)


def test_the_section_rules_beat_a_plain_byte_diff() -> None:
    # The bucket offsets all shift: a byte diff pays for each, ADD32 for each changed bucket.
    assert len(make_delta(OLD, NEW)) * 3 < len(make_delta(OLD, NEW, by_section=False))


def test_white_entries_and_new_category_sets_rebuild_exactly(tmp_path: Path) -> None:
    old = cache(NAMES, 1, white=("ok.example", "school.example"))
    new_names = changed(NAMES, 0.02, seed=5)
    new = cache(new_names, 2, white=("ok.example", "kids.example", "school.example"))
    assert apply(old, make_delta(old, new), tmp_path) == new


def test_a_change_of_bucket_bits_falls_back_and_still_rebuilds(tmp_path: Path) -> None:
    small = cache(NAMES[:3000], 1)
    large = cache(NAMES[:9000], 2)  # bit_length differs: other bucket bits
    assert apply(small, make_delta(small, large), tmp_path) == large


def test_identical_files_give_a_tiny_delta(tmp_path: Path) -> None:
    delta = make_delta(OLD, OLD)
    assert apply(OLD, delta, tmp_path) == OLD
    assert len(delta) < HEADER.size + 600


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"", b""),
        (b"", b"something new"),
        (b"x" * 100, b""),
        (bytes(range(256)) * 40, bytes(range(256)) * 20 + b"inserted" + bytes(range(256)) * 20),
        (b"not a cache " * 500, b"still not " * 30 + b"not a cache " * 480),
    ],
)
def test_any_pair_of_files_rebuilds_exactly(old: bytes, new: bytes, tmp_path: Path) -> None:
    assert apply(old, make_delta(old, new), tmp_path) == new


@settings(max_examples=40)
@given(st.binary(max_size=2000), st.binary(max_size=2000))
def test_random_pairs_rebuild_exactly(old: bytes, new: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        assert apply(old, make_delta(old, new), Path(directory)) == new


def test_a_delta_for_another_base_is_refused(tmp_path: Path) -> None:
    other = bytearray(OLD)
    other[-1] ^= 1
    with pytest.raises(BadDelta, match="another base"):
        apply(bytes(other), make_delta(OLD, NEW), tmp_path)
    with pytest.raises(BadDelta, match="base of"):
        apply(OLD + b"\0", make_delta(OLD, NEW), tmp_path)


def test_a_delta_that_builds_more_than_the_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadDelta, match="more than the limit"):
        apply(OLD, make_delta(OLD, NEW), tmp_path, max_size=len(NEW) - 1)


def test_a_truncated_delta_is_refused(tmp_path: Path) -> None:
    delta = make_delta(OLD, NEW)
    for cut in (0, 10, HEADER.size, HEADER.size + 5, len(delta) // 2, len(delta) - 1):
        with pytest.raises(BadDelta):
            apply(OLD, delta[:cut], tmp_path)


def test_bytes_after_the_delta_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadDelta, match="after the end"):
        apply(OLD, make_delta(OLD, NEW) + b"x", tmp_path)


def test_garbage_is_not_a_delta(tmp_path: Path) -> None:
    with pytest.raises(BadDelta, match="not a copgate delta"):
        apply(OLD, b"<html>" + bytes(200), tmp_path)


def hand_made(old: bytes, new: bytes, instructions: bytes) -> bytes:
    """A delta with the right header around ``instructions`` (to test the applier)."""
    header = HEADER.pack(
        MAGIC, 1, 0, len(old), hashlib.sha256(old).digest(), len(new), hashlib.sha256(new).digest()
    )
    return header + zlib.compress(instructions)


OLD_BYTES = b"0123456789abcdef"


@pytest.mark.parametrize(
    ("instructions", "message"),
    [
        (bytes([Op.COPY]) + svarint(10) + varint(7) + bytes([Op.END]), r"old bytes \[10, 17\)"),
        (bytes([Op.COPY]) + svarint(-1) + varint(1) + bytes([Op.END]), r"\[-1, 0\)"),
        (bytes([Op.COPY]) + svarint(0) + varint(0) + bytes([Op.END]), r"\[0, 0\)"),
        (bytes([Op.LITERAL]) + varint(0) + bytes([Op.END]), "empty LITERAL"),
        (bytes([9]), "unknown instruction 0x09"),
        (bytes([Op.COPY]) + b"\xff" * 11, "longer than 64 bits"),
        (bytes([Op.FLIP]) + svarint(0) + varint(1) + varint(9), "9 bits in 1 bytes"),
        (bytes([Op.FLIP]) + svarint(0) + varint(1) + varint(1) + varint(8), "bit 8 outside"),
        (bytes([Op.ADD32]) + svarint(0) + varint(1) + varint(2), "2 changes in 1 values"),
        (bytes([Op.ADD32]) + svarint(0) + varint(2) + varint(1) + varint(2), "change at value 2"),
        (bytes([Op.LITERAL]) + varint(1) + b"?", "ends before END"),
        (bytes([Op.END, Op.END]), "instructions after END"),
    ],
)
def test_malformed_instructions_are_refused(
    instructions: bytes, message: str, tmp_path: Path
) -> None:
    with pytest.raises(BadDelta, match=message):
        apply(OLD_BYTES, hand_made(OLD_BYTES, b"?", instructions), tmp_path)


def test_a_delta_whose_result_differs_from_its_header_is_refused(tmp_path: Path) -> None:
    instructions = bytes([Op.LITERAL]) + varint(3) + b"abd" + bytes([Op.END])
    with pytest.raises(BadDelta, match="promised"):
        apply(OLD_BYTES, hand_made(OLD_BYTES, b"abc", instructions), tmp_path)


def test_flip_and_add32_do_what_the_format_says(tmp_path: Path) -> None:
    old = bytes(8) + (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    new = b"\x01\x00\x80" + bytes(5) + (1).to_bytes(4, "big") + (5).to_bytes(4, "big")
    new += (2).to_bytes(4, "big")
    flip = bytes([Op.FLIP]) + svarint(0) + varint(8) + varint(2) + varint(0) + varint(22)
    add = bytes([Op.ADD32]) + svarint(0) + varint(3) + varint(2)
    add += varint(1) + svarint(3) + varint(0) + svarint(-4)
    assert apply(old, hand_made(old, new, flip + add + bytes([Op.END])), tmp_path) == new


@settings(max_examples=60)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_corrupted_byte_anywhere_is_refused_never_a_crash(position: int, value: int) -> None:
    old, new = cache(NAMES[:500], 1), cache(changed(NAMES[:500], 0.05), 2)
    delta = bytearray(make_delta(old, new))
    at = position % len(delta)
    if delta[at] == value:
        return
    delta[at] = value
    with tempfile.TemporaryDirectory() as directory:
        try:
            result = apply(old, bytes(delta), Path(directory))
        except BadDelta:
            return
    # A change inside the zlib stream that decompresses the same is harmless.
    assert result == new


@settings(max_examples=80)
@given(st.binary(max_size=200))
def test_random_instructions_build_the_promised_file_or_are_refused(instructions: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        try:
            result = apply(OLD_BYTES, hand_made(OLD_BYTES, b"?", instructions), Path(directory))
        except BadDelta:
            return
    assert result == b"?"
