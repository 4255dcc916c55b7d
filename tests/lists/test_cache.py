"""The list cache reader: lookup semantics, header checks, refusal of bad files.

The semantics are a table: entries, a name, and the answer the gateway must
give. The file checks corrupt and cut real builds and expect CacheError, at
open for what the header can show (truncation, magic, version) and at
verification for what only the checksum can (a flipped body byte).
"""

from __future__ import annotations

import gc
import gzip
import struct
import sys
from pathlib import Path

import pytest

from copgate.errors import CacheError
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.lists.cache_format import (
    CHECKSUM_AT,
    HEADER_SIZE,
    MAGIC,
    SECTIONS_AT,
    Section,
    body_checksum,
)
from copgate.lists.compile import EntryTable, build_cache
from copgate.lists.hashing import fingerprint
from copgate.lists.model import NOT_LISTED, ListEntry, ListMatch, NameLookup
from tests.conftest import shared_data
from tests.lists.helpers import BUILD_TIME, black, cache_bytes, cache_of, white

# ---------------------------------------------------------------------------
# Semantics: (entries, name looked up, expected match, categories, white)

SEMANTICS = [
    # A listed name covers itself and its subdomains, on label boundaries only.
    ("self", [black("example.com")], "example.com", "example.com", {"adult"}, False),
    ("child", [black("example.com")], "www.example.com", "example.com", {"adult"}, False),
    ("deep", [black("example.com")], "a.b.c.example.com", "example.com", {"adult"}, False),
    ("not a label suffix", [black("example.com")], "notexample.com", None, set(), False),
    ("parent not covered", [black("www.example.com")], "example.com", None, set(), False),
    ("sibling", [black("a.example.com")], "b.example.com", None, set(), False),
    ("name as prefix", [black("example.com")], "example.com.evil.net", None, set(), False),
    ("tld not listed", [black("example.com")], "com", None, set(), False),
    ("listed tld", [black("zip", "tld")], "files.example.zip", "zip", {"tld"}, False),
    ("single label", [black("localhost", "local")], "localhost", "localhost", {"local"}, False),
    ("empty name", [black("example.com")], "", None, set(), False),
    # The most specific listed suffix decides, categories and colour alike.
    (
        "specific categories",
        [black("p.com", "a"), black("c.p.com", "b")],
        "x.c.p.com",
        "c.p.com",
        {"b"},
        False,
    ),
    (
        "white parent, black child: black child wins",
        [white("school.org", "edu"), black("bad.school.org", "adult")],
        "x.bad.school.org",
        "bad.school.org",
        {"adult"},
        False,
    ),
    (
        "white parent still covers the rest",
        [white("school.org", "edu"), black("bad.school.org", "adult")],
        "www.school.org",
        "school.org",
        {"edu"},
        True,
    ),
    (
        "black parent, white child: white wins",
        [black("tube.com", "video"), white("edu.tube.com", "edu")],
        "a.edu.tube.com",
        "edu.tube.com",
        {"edu"},
        True,
    ),
    (
        "black parent elsewhere",
        [black("tube.com", "video"), white("edu.tube.com", "edu")],
        "www.tube.com",
        "tube.com",
        {"video"},
        False,
    ),
    (
        "white beats black at the same name",
        [black("both.net", "ads"), white("both.net", "ok")],
        "www.both.net",
        "both.net",
        {"ok"},
        True,
    ),
    (
        "categories unite for one name",
        [black("multi.org", "adult"), black("multi.org", "gambling")],
        "multi.org",
        "multi.org",
        {"adult", "gambling"},
        False,
    ),
    (
        "white categories unite",
        [white("w.org", "edu"), white("w.org", "news")],
        "w.org",
        "w.org",
        {"edu", "news"},
        True,
    ),
    (
        "IDN in punycode",
        [black("xn--bcher-kva.de", "shop")],
        "www.xn--bcher-kva.de",
        "xn--bcher-kva.de",
        {"shop"},
        False,
    ),
    (
        "underscore and hyphen labels",
        [black("_dmarc.x-y.org", "dns")],
        "a._dmarc.x-y.org",
        "_dmarc.x-y.org",
        {"dns"},
        False,
    ),
    (
        "entry without categories",
        [ListEntry("bare.net", frozenset())],
        "bare.net",
        "bare.net",
        set(),
        False,
    ),
]


@pytest.mark.parametrize(
    ("entries", "name", "match", "categories", "is_white"),
    [case[1:] for case in SEMANTICS],
    ids=[case[0] for case in SEMANTICS],
)
def test_lookup_semantics(
    entries: list[ListEntry], name: str, match: str | None, categories: set[str], is_white: bool
) -> None:
    cache = cache_of(entries)  # named test.cache: its matches say list "test"
    listed = match is not None
    expected = ListMatch(listed, match, frozenset(categories), is_white, "test" if listed else None)
    assert cache.lookup(name) == expected


def test_unlisted_answer_is_the_shared_constant() -> None:
    assert cache_of([black("example.com")]).lookup("example.org") is NOT_LISTED


def test_empty_cache_answers_not_listed() -> None:
    cache = cache_of([])
    assert cache.header.black_count == cache.header.white_count == 0
    assert cache.lookup("www.example.com") == NOT_LISTED


def test_cache_is_a_name_lookup() -> None:
    lookup: NameLookup = cache_of([black("example.com")])
    assert lookup.lookup("a.example.com").listed


def test_every_match_names_the_list_file_that_decided(tmp_path: Path) -> None:
    """The file's stem, black or white: ``/etc/copgate/default.cgl`` says ``default``."""
    path = tmp_path / "default.cgl"
    path.write_bytes(cache_bytes([black("bad.example", "adult"), white("ok.bad.example", "edu")]))
    with ListCache.open(path) as cache:
        assert cache.name == "default"
        assert cache.lookup("www.bad.example") == ListMatch(
            True, "bad.example", frozenset({"adult"}), False, "default"
        )
        assert cache.lookup("ok.bad.example") == ListMatch(
            True, "ok.bad.example", frozenset({"edu"}), True, "default"
        )
        assert cache.lookup("good.example") is NOT_LISTED


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("/etc/copgate/default.cgl", "default"),
        ("lists/school.block.cgc", "school.block"),  # only the last suffix goes
        ("corpus_840k", "corpus_840k"),
        ("<bytes>", "<bytes>"),
    ],
)
def test_a_cache_is_named_by_its_file_stem(where: str, name: str) -> None:
    data = cache_bytes([black("example.com")])
    assert ListCache.from_bytes(data, where).lookup("example.com").list_name == name


def test_a_cache_in_memory_can_be_named() -> None:
    cache = ListCache.from_bytes(cache_bytes([black("example.com")]), "<build>", name="school")
    assert (cache.name, cache.where) == ("school", "<build>")
    assert cache.lookup("example.com").list_name == "school"


def test_not_listed_and_four_field_matches_name_no_list() -> None:
    assert NOT_LISTED.list_name is None
    assert ListMatch(True, "a.example", frozenset(), False).list_name is None


def test_white_entries_are_matched_by_exact_name_not_fingerprint(tmp_path: Path) -> None:
    """A name whose fingerprint equals a white entry's still gets no white answer.

    No real collision is at hand (64 bits), so the file is forged: the white
    record of ``school.example`` is given the fingerprint of
    ``evil.example`` (with one white entry there is one bucket, so nothing
    else moves) and the checksum recomputed.
    """
    data = bytearray(cache_bytes([white("school.example", "edu"), black("evil.example", "adult")]))
    cache = ListCache.from_bytes(bytes(data))
    start, _end = cache.header.span(Section.WHITE_FINGERPRINTS)
    data[start : start + 8] = fingerprint(b"evil.example")
    data[CHECKSUM_AT:HEADER_SIZE] = body_checksum(data)
    forged = ListCache.from_bytes(bytes(data), "forged.cache")
    assert forged.lookup("www.evil.example") == ListMatch(
        True, "evil.example", frozenset({"adult"}), False, "forged"
    )
    path = tmp_path / "forged.cache"
    path.write_bytes(data)
    with pytest.raises(CacheError, match="fingerprint that is not its name's"):
        verify_cache_file(path)


def test_every_category_set_width() -> None:
    """One set needs no index byte, up to 256 one byte, more two bytes."""
    for count, width in ((1, 0), (200, 1), (300, 2)):
        entries = [black(f"n{i}.example", f"c{i}") for i in range(count)]
        cache = cache_of(entries)
        assert cache.header.set_width == width
        for i in (0, count // 2, count - 1):
            assert cache.lookup(f"www.n{i}.example").categories == {f"c{i}"}


def test_many_white_entries_all_found() -> None:
    entries = [white(f"w{i}.school", "edu") for i in range(1000)]
    entries += [black(f"b{i}.w{i}.school", "adult") for i in range(0, 1000, 7)]
    cache = cache_of(entries)
    for i in range(1000):
        found = cache.lookup(f"x.w{i}.school")
        assert (found.white, found.match) == (True, f"w{i}.school")
    assert cache.lookup("b7.w7.school").white is False
    assert cache.lookup("w1000.school") == NOT_LISTED


def test_catalogue_and_categories_round_trip() -> None:
    from copgate.lists.model import Category, DefaultUse

    catalogue = {
        "adult": Category("adult", DefaultUse.BLACK, {"en": "Adult", "fr": "Adulte"}, {"en": "X"}),
        "bank": Category("bank", DefaultUse.WHITE, {"ru": "Банки"}, {}),
    }
    data, _ = build_cache(
        [black("x.com", "adult"), black("y.com", "other")], catalogue, build_time=0
    )
    cache = ListCache.from_bytes(data)
    read = cache.catalogue()
    assert read["adult"].titles == {"en": "Adult", "fr": "Adulte"}
    assert read["bank"].default_use is DefaultUse.WHITE
    assert read["bank"].titles == {"ru": "Банки"}
    assert read["other"].default_use is DefaultUse.BLACK
    assert cache.categories == ("adult", "bank", "other")


# ---------------------------------------------------------------------------
# The header: fixed big-endian fields, read back from the bytes themselves.


def test_header_is_big_endian() -> None:
    data = cache_bytes([black(f"n{i}.example") for i in range(1000)], release=0x0102030405)
    assert data[:8] == MAGIC
    assert data[8:10] == b"\x00\x01"  # version 1, big-endian
    assert data[16:24] == struct.pack(">q", BUILD_TIME)
    assert data[24:32] == bytes.fromhex("0000000102030405")
    assert data[56:60] == (1000).to_bytes(4, "big")  # black_count
    # The black bucket table's last offset is the entry count, big-endian.
    offset, length = struct.unpack_from(">QQ", data, SECTIONS_AT + 16 * Section.BLACK_BUCKETS)
    assert data[offset + length - 4 : offset + length] == (1000).to_bytes(4, "big")


def test_header_fields_decode() -> None:
    cache = ListCache.from_bytes(cache_bytes([black("a.com"), white("b.com")], release=7))
    header = cache.header
    assert (header.version, header.build_time, header.release) == (1, BUILD_TIME, 7)
    assert (header.black_count, header.white_count) == (1, 1)


# ---------------------------------------------------------------------------
# Refusing bad files.


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "lists.cache"
    entries = [black(f"n{i}.example", f"c{i % 3}") for i in range(500)]
    entries += [white(f"w{i}.example") for i in range(20)]
    path.write_bytes(cache_bytes(entries))
    return path


def test_good_file_verifies(good_file: Path) -> None:
    header = verify_cache_file(good_file)
    assert header.black_count == 500
    with ListCache.open(good_file) as cache:
        assert cache.lookup("www.n42.example").categories == {"c0"}


def test_flipped_body_byte_fails_verification_everywhere(good_file: Path) -> None:
    """Every section's first byte, flipped, is caught by the checksum."""
    original = good_file.read_bytes()
    header = ListCache.from_bytes(original).header
    for section in Section:
        start, end = header.span(section)
        if start == end:
            continue
        corrupted = bytearray(original)
        corrupted[start] ^= 0x01
        good_file.write_bytes(corrupted)
        with pytest.raises(CacheError, match="checksum mismatch") as caught:
            verify_cache_file(good_file)
        assert str(good_file) in str(caught.value)


def test_flipped_header_byte_fails(good_file: Path) -> None:
    """Header bytes are covered too: a changed release number is caught."""
    data = bytearray(good_file.read_bytes())
    data[31] ^= 0x01
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="checksum mismatch"):
        verify_cache_file(good_file)


def test_truncated_file_is_refused_at_open(good_file: Path) -> None:
    data = good_file.read_bytes()
    header = ListCache.from_bytes(data).header
    cuts = {0, 1, 7, HEADER_SIZE - 1, HEADER_SIZE, len(data) - 1, len(data) // 2}
    cuts |= {header.sections[s][0] + 1 for s in Section} | {header.sections[s][0] for s in Section}
    for cut in sorted(c for c in cuts if c < len(data)):
        good_file.write_bytes(data[:cut])
        with pytest.raises(CacheError) as caught:
            ListCache.open(good_file)
        assert str(good_file) in str(caught.value), cut


def test_appended_bytes_are_refused(good_file: Path) -> None:
    good_file.write_bytes(good_file.read_bytes() + b"\x00" * 8)
    with pytest.raises(CacheError, match="after the last section"):
        ListCache.open(good_file)


def test_wrong_magic_is_refused(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[1:4] = b"ZIP"
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="not a copgate list cache"):
        ListCache.open(good_file)


def test_text_mode_transfer_breaks_the_magic(good_file: Path) -> None:
    data = good_file.read_bytes()
    good_file.write_bytes(data[:7] + b"\r\n" + data[8:])
    with pytest.raises(CacheError, match="bad magic"):
        ListCache.open(good_file)


def test_unknown_version_is_refused(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[8:10] = (2).to_bytes(2, "big")
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="version 2"):
        ListCache.open(good_file)


def test_impossible_header_is_refused(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[50] = 3  # set_width 3 does not exist
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="set_width 3"):
        ListCache.open(good_file)


def test_section_length_disagreeing_with_counts_is_refused(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[56:60] = (501).to_bytes(4, "big")  # one more black entry than stored
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="BLACK_REMAINDERS"):
        ListCache.open(good_file)


def test_empty_and_missing_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.cache"
    empty.write_bytes(b"")
    with pytest.raises(CacheError, match="empty file"):
        ListCache.open(empty)
    with pytest.raises(CacheError, match="cannot open"):
        ListCache.open(tmp_path / "absent.cache")


def test_broken_invariant_with_valid_checksum_fails_verification(good_file: Path) -> None:
    """A file whose checksum is right but whose bucket table decreases is still refused."""
    data = bytearray(good_file.read_bytes())
    header = ListCache.from_bytes(bytes(data)).header
    start, _end = header.span(Section.BLACK_BUCKETS)
    data[start + 4 : start + 8] = (400).to_bytes(4, "big")
    data[CHECKSUM_AT:HEADER_SIZE] = body_checksum(data)
    good_file.write_bytes(data)
    with pytest.raises(CacheError, match="black bucket table decreases"):
        verify_cache_file(good_file)


@pytest.mark.parametrize(("sets", "patch", "named"), [(3, b"\xc8", 200), (300, b"\x01\x2c", 300)])
def test_category_set_index_out_of_range_is_refused(
    tmp_path: Path, sets: int, patch: bytes, named: int
) -> None:
    """One byte or two, the last entry's set index pointing past the table is caught."""
    data = bytearray(cache_bytes([black(f"n{i}.example", f"c{i % sets}") for i in range(600)]))
    header = ListCache.from_bytes(bytes(data)).header
    assert header.set_width == len(patch)
    _start, end = header.span(Section.BLACK_SETS)
    data[end - len(patch) : end] = patch
    data[CHECKSUM_AT:HEADER_SIZE] = body_checksum(data)
    path = tmp_path / "lists.cache"
    path.write_bytes(data)
    with pytest.raises(CacheError, match=f"category set {named}"):
        verify_cache_file(path)


def test_dropping_the_cache_releases_the_map_without_gc(good_file: Path) -> None:
    """No reference cycle: the last reference gone, only ours holds the map."""
    gc.disable()
    try:
        cache = ListCache.open(good_file)
        mapped = cache.buffer()
        assert cache.lookup("n1.example").listed
        del cache
        assert sys.getrefcount(mapped) == 2  # ``mapped`` and getrefcount's argument
    finally:
        gc.enable()


def test_an_open_cache_survives_unlinking(good_file: Path) -> None:
    with ListCache.open(good_file) as cache:
        good_file.unlink()
        assert cache.lookup("n1.example").listed


# ---------------------------------------------------------------------------
# The real corpus: no false positive among the 50,000 most popular names.


def _exact_match(name: str, listed: set[str]) -> str | None:
    while True:
        if name in listed:
            return name
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1 :]


@pytest.fixture(scope="module")
def corpus() -> tuple[ListCache, set[str]]:
    with gzip.open(shared_data("lists/corpus_840k.txt.gz"), "rt") as file:
        names = file.read().split()
    table = EntryTable()
    table.add_names(names, frozenset({"corpus"}))
    data, report = build_cache(table, build_time=BUILD_TIME)
    assert report.names == 839_126
    return ListCache.from_bytes(data, "corpus_840k"), set(names)


@pytest.mark.shared_data
def test_top50k_gives_no_false_positive(corpus: tuple[ListCache, set[str]]) -> None:
    """Every answer equals the exact set's: true positives stay, nothing else is listed.

    Some popular names are in the corpus (or have a listed parent); those
    are true positives, so the oracle is the exact set, not "never listed".
    """
    cache, listed = corpus
    top = shared_data("names/top50k.txt").read_text().split()
    assert len(top) == 50_000
    wrong = []
    true_positives = 0
    for name in top:
        for asked in (name, "www." + name):
            expected = _exact_match(asked, listed)
            true_positives += expected is not None
            if cache.lookup(asked).match != expected:
                wrong.append((asked, cache.lookup(asked).match, expected))
    assert wrong == []
    assert true_positives > 0  # the check can see a hit: some popular names are listed


@pytest.mark.shared_data
def test_every_corpus_name_is_found(corpus: tuple[ListCache, set[str]]) -> None:
    cache, listed = corpus
    missing = [name for name in listed if cache.lookup(name).match != name]
    assert missing == []
