"""The builder and the atomic install: merges, stable encodings, budget, swaps.

Builds are compared byte for byte where the format promises stability
(releases ship deltas, so the same name must encode the same way), and the
install is checked from a reader's side: an open map keeps answering from
the old file, a refused file leaves the installed one untouched.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pytest

from copgate.errors import BudgetError, CacheError, ListSourceError
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.lists.cache_format import Section
from copgate.lists.compile import EntryTable, build_cache, compile_cache
from copgate.lists.hashing import fingerprint
from copgate.lists.install import install_cache, install_file
from copgate.lists.manifest import add_manifest, compile_manifest, read_manifest
from copgate.lists.model import ListEntry, ListMatch
from tests.lists.helpers import BUILD_TIME, black, cache_bytes, white


def test_same_input_gives_same_bytes() -> None:
    entries = [black(f"n{i}.example", f"c{i % 5}") for i in range(3000)] + [white("ok.example")]
    assert cache_bytes(entries) == cache_bytes(list(reversed(entries)))


def test_build_time_and_release_come_from_the_caller() -> None:
    data, _ = build_cache([black("a.com")], build_time=123, release=9)
    header = ListCache.from_bytes(data).header
    assert (header.build_time, header.release) == (123, 9)


def _section(data: bytes, section: Section) -> bytes:
    start, end = ListCache.from_bytes(data).header.span(section)
    return data[start:end]


def test_adding_a_name_inserts_its_record_and_moves_nothing_else() -> None:
    """The delta property: one new name is 4 more remainder bytes at one place."""
    names = [f"site{i}.example" for i in range(5000)]
    before = _section(cache_bytes(black(n) for n in names), Section.BLACK_REMAINDERS)
    after = _section(
        cache_bytes(black(n) for n in [*names, "new.example"]), Section.BLACK_REMAINDERS
    )
    assert len(after) == len(before) + 4
    at = next(i for i in range(0, len(before), 4) if before[i : i + 4] != after[i : i + 4])
    assert after[:at] + after[at + 4 :] == before
    assert after[at : at + 4] == fingerprint(b"new.example")[4:]


def test_previous_release_keeps_category_and_set_indexes() -> None:
    first = ListCache.from_bytes(cache_bytes([black("a.com", "news"), black("b.com", "video")]))
    entries = [black("a.com", "news"), black("b.com", "video"), black("c.com", "adult")]
    plain, _ = build_cache(entries, build_time=0)
    stable, _ = build_cache(entries, build_time=0, previous=first)
    # Sorted afresh, "adult" would take index 0 and shift the others.
    assert ListCache.from_bytes(plain).categories == ("adult", "news", "video")
    kept = ListCache.from_bytes(stable)
    assert kept.categories == ("news", "video", "adult")
    assert [kept.category_set(i) for i in range(2)] == [
        first.category_set(0),
        first.category_set(1),
    ]
    assert kept.lookup("www.c.com").categories == {"adult"}


def test_report_counts_names_and_merges() -> None:
    entries = [black("a.com", "x"), black("a.com", "y"), black("b.com", "x"), white("a.com", "ok")]
    data, report = build_cache(entries, build_time=0)
    assert (report.names, report.black_names, report.white_names) == (3, 2, 1)
    assert report.fingerprint_merges == 0
    assert report.size == len(data)
    assert report.bytes_per_name == len(data) / 3
    assert report.sets == 3  # {x, y}, {x}, {ok}


def _colliding_pair() -> tuple[str, str]:
    """Two names whose fingerprints share their last 4 bytes (a birthday search)."""
    seen: dict[bytes, str] = {}
    for i in range(1_000_000):
        name = f"c{i}.test"
        tail = fingerprint(name.encode())[4:]
        if tail in seen:
            return seen[tail], name
        seen[tail] = name
    raise AssertionError("no collision in a million names")


def test_names_sharing_a_stored_fingerprint_become_one_entry() -> None:
    """Invariant 4: with 2 names there is one bucket, so 32 stored bits decide.

    The two names collide; the cache keeps one entry whose categories are
    both names' (a false positive in category, never a false negative).
    """
    first, second = _colliding_pair()
    data, report = build_cache([black(first, "a"), black(second, "b")], build_time=0)
    cache = ListCache.from_bytes(data, "pair.cache")
    assert cache.header.bucket_bits == 0
    assert report.fingerprint_merges == 1
    assert cache.header.black_count == 1
    for name in (first, second):
        assert cache.lookup(name) == ListMatch(True, name, frozenset({"a", "b"}), False, "pair")
    assert len(first) > 0


@pytest.mark.parametrize(
    "name",
    [
        "Upper.com",
        "trailing.com.",
        ".leading.com",
        "a..b.com",
        "",
        "x" * 64 + ".com",
        "a." * 126 + "com",
        "caf\u00e9.fr",
        "space x.com",
        "tab\t.com",
    ],
)
def test_names_that_are_not_normalised_are_refused(name: str) -> None:
    with pytest.raises(CacheError, match="not a normalised host name"):
        build_cache([black("fine.com"), black(name)], build_time=0)


def test_longest_valid_names_are_taken() -> None:
    label = "x" * 63
    name = f"{label}.{label}.{label}.{'y' * 61}"
    assert len(name) == 253
    data, _ = build_cache([black(name)], build_time=0)
    assert ListCache.from_bytes(data).lookup("www." + name).match == name


def test_entry_table_add_names_merges_like_entries() -> None:
    table = EntryTable()
    table.add_names(["a.com", "b.com"], frozenset({"x"}))
    table.add_names(["b.com"], frozenset({"y"}))
    table.add(ListEntry("a.com", frozenset({"ok"}), white=True))
    assert table.black == {"a.com": {"x"}, "b.com": {"x", "y"}}
    assert table.white == {"a.com": {"ok"}}
    assert len(table) == 3


# ---------------------------------------------------------------------------
# Budget and atomic install.


def test_budget_refuses_before_writing(tmp_path: Path) -> None:
    output = tmp_path / "lists.cache"
    entries = [black(f"n{i}.example") for i in range(1000)]
    with pytest.raises(BudgetError) as caught:
        compile_cache(entries, output, build_time=0, budget=1000)
    message = str(caught.value)
    assert str(output) in message
    assert "needs" in message and "budget of 1000 bytes" in message
    found = re.search(r"needs (\d+) bytes", message)
    assert found is not None
    size = int(found.group(1))
    assert size > 1000
    assert list(tmp_path.iterdir()) == []
    # The size it said it needs is exactly enough.
    report = compile_cache(entries, output, build_time=0, budget=size)
    assert report.size == size == output.stat().st_size


def test_install_replaces_atomically_for_open_readers(tmp_path: Path) -> None:
    path = tmp_path / "lists.cache"
    install_cache(cache_bytes([black("old.example")]), path)
    with ListCache.open(path) as old:
        install_cache(cache_bytes([black("new.example")]), path)
        # The open map keeps the old inode: it answers from the old file, whole.
        assert old.lookup("old.example").listed
        assert not old.lookup("new.example").listed
        with ListCache.open(path) as new:
            assert new.lookup("new.example").listed
            assert not new.lookup("old.example").listed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lists.cache"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_corrupt_bytes_are_never_installed(tmp_path: Path) -> None:
    path = tmp_path / "lists.cache"
    install_cache(cache_bytes([black("old.example")]), path)
    installed = path.read_bytes()
    corrupt = bytearray(cache_bytes([black("new.example")]))
    corrupt[-1] ^= 0xFF
    with pytest.raises(CacheError, match="checksum mismatch"):
        install_cache(bytes(corrupt), path)
    assert path.read_bytes() == installed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lists.cache"]


def test_install_file_verifies_a_downloaded_candidate(tmp_path: Path) -> None:
    path = tmp_path / "lists.cache"
    install_cache(cache_bytes([black("old.example")]), path)
    candidate = tmp_path / "download.tmp"
    candidate.write_bytes(cache_bytes([black("new.example")])[:-10])
    with pytest.raises(CacheError, match=r"truncated|after the last section"):
        install_file(candidate, path)
    with ListCache.open(path) as cache:
        assert cache.lookup("old.example").listed
    candidate.write_bytes(cache_bytes([black("new.example")]))
    install_file(candidate, path)
    assert not candidate.exists()
    assert verify_cache_file(path).black_count == 1


def test_install_into_a_missing_directory_is_a_cache_error(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="cannot create a file beside it"):
        install_cache(cache_bytes([black("a.com")]), tmp_path / "absent" / "lists.cache")


def test_compile_cache_writes_a_verified_file(tmp_path: Path) -> None:
    output = tmp_path / "lists.cache"
    report = compile_cache([black("a.com"), white("b.a.com")], output, build_time=BUILD_TIME)
    assert verify_cache_file(output).build_time == BUILD_TIME
    assert report.size == os.path.getsize(output)


# --- manifests ---------------------------------------------------------------


def test_a_manifest_reads_its_entries_through_its_aliases(tmp_path: Path) -> None:
    (tmp_path / "proxies.txt").write_text("# proxies\nhide.example\n")
    (tmp_path / "school.txt.gz").write_bytes(gzip.compress(b"lessons.example\n"))
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        '[[list]]\npath = "proxies.txt"\ncategory = "proxy"\nwhite = false\n\n'
        '[[list]]\npath = "school.txt.gz"\ncategory = "school"\nwhite = true\n\n'
        '[aliases]\nproxy = "redirector"\n'
    )
    read = read_manifest(manifest)
    assert [(item.path.name, item.category) for item in read.lists] == [
        ("proxies.txt", "redirector"),
        ("school.txt.gz", "school"),
    ]
    assert read.aliases == {"proxy": "redirector"}
    data, report, imports = compile_manifest(manifest, build_time=BUILD_TIME)
    assert [imported.taken for imported in imports] == [1, 1]
    assert report.categories == 2
    path = tmp_path / "manifest.cgc"
    install_cache(data, path)
    with ListCache.open(path) as cache:
        assert cache.lookup("www.hide.example").categories == frozenset({"redirector"})
        assert cache.lookup("lessons.example").white


def test_add_manifest_hands_its_aliases_on(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[aliases]\nporn = "adult"\n')
    aliases: dict[str, str] = {"proxy": "redirector"}
    add_manifest(manifest, EntryTable(), {}, aliases)
    assert aliases == {"porn": "adult", "proxy": "redirector"}


def test_a_manifest_with_bad_aliases_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text("[aliases]\nporn = 3\n")
    with pytest.raises(ListSourceError, match=r"\[aliases\]"):
        read_manifest(manifest)
