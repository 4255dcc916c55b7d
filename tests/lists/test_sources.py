"""List sources in four formats: dirty lines read, skipped lines counted, formats agree."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.errors import ListSourceError
from copgate.lists import sources
from copgate.lists.report import ImportReport
from copgate.lists.sources import (
    SourceFormat,
    detect_format,
    read_source_file,
    read_source_lines,
)
from copgate.wire.names import name_from_bytes
from tests.conftest import shared_data


def read(lines: list[str], fmt: SourceFormat) -> tuple[list[str], ImportReport]:
    report = ImportReport("sample")
    return list(read_source_lines(lines, fmt, report)), report


def counts(report: ImportReport) -> dict[str, int]:
    return {reason: count for reason, (count, _) in report.skipped.items()}


# --- plain domains ---------------------------------------------------------

DIRTY_DOMAINS = [
    "\ufeff# a comment after a byte-order mark\n",
    "Example.COM\r\n",
    ".afshin.ir\n",
    "*.wild.example.net\n",
    "10.0.0.1\n",
    "2001:db8::1\n",
    "example.com\n",
    "  trailing.example.org  \t\r\n",
    "bücher.de\n",
    "bad..name\n",
    "localhost\n",
    "foo.com   # inline comment\n",
    "has space.com\n",
    "http://evil.example/path\n",
    "mid.*.example.org\n",
    "1.2.3\n",
    "under_score.example.com\n",
    "\x07bell.com\n",
    "\n",
    "   \n",
    "# trailing comment",
]


def test_dirty_domains_give_exactly_the_clean_names() -> None:
    names, report = read(DIRTY_DOMAINS, SourceFormat.DOMAINS)
    assert names == [
        "example.com",
        "afshin.ir",
        "wild.example.net",
        "trailing.example.org",
        "xn--bcher-kva.de",
        "foo.com",
        "under_score.example.com",
    ]
    assert report.taken == 7
    assert counts(report) == {
        "ip address": 2,
        "duplicate": 1,
        "an empty label": 1,
        "localhost entry": 1,
        "several words on a line": 1,
        "url or path, not a host": 1,
        "wildcard pattern": 1,
        "all-numeric top-level label": 1,
        "control bytes": 1,
    }
    assert report.skipped["ip address"] == (2, "line 5: 10.0.0.1")
    assert report.skipped["duplicate"] == (1, "line 7: example.com")
    assert report.skipped["control bytes"] == (1, "line 18: \\x07bell.com")


def test_a_name_longer_than_dns_allows_is_skipped_with_the_reason() -> None:
    long_label = "a" * 64 + ".example.com"
    long_name = ".".join(["abcdefghi"] * 26) + ".com"  # 263 characters
    names, report = read([long_label, long_name, "ok.example.com"], SourceFormat.DOMAINS)
    assert names == ["ok.example.com"]
    assert counts(report) == {
        "a label longer than 63 octets": 1,
        "longer than 253 characters": 1,
    }


# --- hosts -----------------------------------------------------------------

DIRTY_HOSTS = [
    "# hosts file",
    "127.0.0.1 localhost",
    "127.0.0.1 localhost.localdomain",
    "::1 localhost ip6-localhost ip6-loopback",
    "fe00::0 ip6-localnet",
    "ff02::1 ip6-allnodes",
    "255.255.255.255 broadcasthost",
    "0.0.0.0 0.0.0.0",
    "0.0.0.0 ads.example.com tracker.example.com  # two names",
    "0.0.0.0\tTAB.Example.org",
    ":: v6sink.example.net",
    "127.0.0.1 loop.example.net   ",
    "216.239.38.120 www.google.com",
    "0.0.0.0 ads.example.com",
    "0.0.0.0 10.1.2.3",
    "0.0.0.0",
    "bare.example.com",
    "0.0.0.0 *.wild.example.com",
    "0.0.0.0 .dot.example.com",
    "0.0.0.0 xn--mnchen-3ya.de",
    "0.0.0.0 münchen.de",
]


def test_dirty_hosts_give_exactly_the_blocked_names() -> None:
    names, report = read(DIRTY_HOSTS, SourceFormat.HOSTS)
    assert names == [
        "ads.example.com",
        "tracker.example.com",
        "tab.example.org",
        "v6sink.example.net",
        "loop.example.net",
        "bare.example.com",
        "wild.example.com",
        "dot.example.com",
        "xn--mnchen-3ya.de",
    ]
    assert counts(report) == {
        "localhost entry": 8,
        "ip address": 2,
        "address is not a sink (a redirect, not a block)": 1,
        "duplicate": 2,
        "address without a name": 1,
    }
    assert report.skipped["localhost entry"] == (8, "line 2: localhost")
    # A safe-search redirect in a hosts file is not a block of google.com.
    assert report.skipped["address is not a sink (a redirect, not a block)"] == (
        1,
        "line 13: 216.239.38.120 www.google.com",
    )
    # The UTF-8 spelling of a name already taken in punycode is a duplicate.
    assert report.skipped["duplicate"] == (2, "line 14: ads.example.com")


# --- adblock ---------------------------------------------------------------

DIRTY_ADBLOCK = [
    "\ufeff[Adblock Plus 2.0]",
    "! Title: test",
    "||ads.example.com^",
    "||Tracker.Example.NET^$important",
    "||third.example.org^$third-party",
    "||both.example.org^$third-party,important",
    "||img.example.com^$image",
    "||scoped.example.com^$domain=news.example",
    "@@||allowed.example.com^",
    "example.com##.banner",
    "##.ad-box",
    "||path.example.com/ads/*",
    "/banner[0-9]+\\.gif/",
    "||mid.*.example.com^",
    "||*.wild.example.com^",
    "||prefix.example",
    "||ads.",
    "||1.2.3.4^",
    "||ads.example.com^",
    "||end.example.com^|",
    "-ad-banner.",
    "_ads.js",
    "||bücher.de^",
    "# a comment",
    "||ads.example.com^$badfilter",
    "0.0.0.0 hosts.example.com",
    "||doc.example.com^$document\r\n",
    "||.dot.example.org^",
]


def test_dirty_adblock_gives_only_domain_rules() -> None:
    names, report = read(DIRTY_ADBLOCK, SourceFormat.ADBLOCK)
    assert names == [
        "ads.example.com",
        "tracker.example.net",
        "third.example.org",
        "both.example.org",
        "wild.example.com",
        "end.example.com",
        "xn--bcher-kva.de",
        "doc.example.com",
        "dot.example.org",
    ]
    assert counts(report) == {
        "options a name filter cannot honour": 3,
        "exception rule": 1,
        "cosmetic rule": 2,
        "url or path, not a host": 1,
        "regex rule": 1,
        "wildcard pattern": 1,
        "prefix pattern (no ^), not a domain rule": 2,
        "ip address": 1,
        "duplicate": 1,
        "not a domain rule": 3,
    }
    assert report.skipped["exception rule"] == (1, "line 9: @@||allowed.example.com^")
    assert report.skipped["options a name filter cannot honour"] == (
        3,
        "line 7: ||img.example.com^$image",
    )
    assert report.skipped["not a domain rule"] == (3, "line 21: -ad-banner.")


# --- dnsmasq ---------------------------------------------------------------

DIRTY_DNSMASQ = [
    "\ufeff# dnsmasq",
    "server=/ads.example.com/",
    "address=/one.example.com/two.example.com/",
    "address=/sink.example.com/0.0.0.0",
    "address=/sink6.example.com/::",
    "address=/hash.example.com/#",
    "local=/local-zone.example.org/",
    "server=/cn/114.114.114.114",
    "server=/fwd.example.com/#",
    "address=/safe.example.com/216.239.38.120",
    "server=8.8.8.8",
    "cache-size=1000",
    "no-resolv",
    "address=/#/",
    "server=/ADS.example.com/",
    "address=/.dot.example.net/",
    "server=/*.wild.example.net/",
    "--server=/dash.example.net/",
    "server=/broken.example.com",
    "server=/10.0.0.1/",
    "server=/München.example/\r\n",
]


def test_dirty_dnsmasq_gives_only_blocking_directives() -> None:
    names, report = read(DIRTY_DNSMASQ, SourceFormat.DNSMASQ)
    assert names == [
        "ads.example.com",
        "one.example.com",
        "two.example.com",
        "sink.example.com",
        "sink6.example.com",
        "hash.example.com",
        "local-zone.example.org",
        "dot.example.net",
        "wild.example.net",
        "dash.example.net",
        "xn--mnchen-3ya.example",
    ]
    assert counts(report) == {
        "forwarding rule, not a block": 2,
        "address redirect, not a block": 1,
        "other dnsmasq directive": 3,
        "matches every name": 1,
        "duplicate": 1,
        "malformed dnsmasq line": 1,
        "ip address": 1,
    }
    assert report.skipped["forwarding rule, not a block"] == (
        2,
        "line 8: server=/cn/114.114.114.114",
    )


# --- the four formats of one real list agree -------------------------------

BLOCKLISTPROJECT = {
    SourceFormat.HOSTS: "lists/blocklistproject/drugs.hosts.txt",
    SourceFormat.DOMAINS: "lists/blocklistproject/drugs.domains.txt",
    SourceFormat.DNSMASQ: "lists/blocklistproject/drugs.dnsmasq.txt",
    SourceFormat.ADBLOCK: "lists/blocklistproject/drugs.adblock.txt",
}


@pytest.mark.shared_data
def test_the_four_formats_of_a_real_list_give_the_same_names() -> None:
    results = {}
    for fmt, relative in BLOCKLISTPROJECT.items():
        path = shared_data(relative)
        names, report = read_source_file(path)
        assert report.format == fmt, f"{path.name} detected as {report.format}"
        assert report.skipped == {}, report.summary()
        results[fmt] = names
    domains = results[SourceFormat.DOMAINS]
    # The header says "Entries: 26,029"; underscores (konto_identity) are kept.
    assert len(domains) == len(set(domains)) == 26029
    assert "248047-deutschland-verbraucher-angabe-konto_identity.vorkehrung.tk" in domains
    for fmt, names in results.items():
        assert names == domains, fmt


@pytest.mark.shared_data
def test_the_real_corpus_reads_whole() -> None:
    names, report = read_source_file(shared_data("lists/corpus_840k.txt.gz"))
    assert report.taken == len(names) == 839126
    assert report.skipped == {}
    assert names[0] == name_from_bytes(names[0].encode()).text


# --- format detection -------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "fmt"),
    [
        (DIRTY_DOMAINS, SourceFormat.DOMAINS),
        (DIRTY_HOSTS, SourceFormat.HOSTS),
        (DIRTY_ADBLOCK, SourceFormat.ADBLOCK),
        (DIRTY_DNSMASQ, SourceFormat.DNSMASQ),
        ([], SourceFormat.DOMAINS),
        (["# only", "# comments"], SourceFormat.DOMAINS),
        (["! only", "! adblock comments"], SourceFormat.ADBLOCK),
        (["0.0.0.0 a.example ## note", "0.0.0.0 b.example"], SourceFormat.HOSTS),
        (["example.com##.ad", "a.example"], SourceFormat.ADBLOCK),
    ],
)
def test_format_is_detected_from_the_first_data_lines(lines: list[str], fmt: SourceFormat) -> None:
    assert detect_format(lines) == fmt


# --- files ------------------------------------------------------------------


def test_a_gzip_file_with_crlf_and_bom_reads_like_the_lines(tmp_path: Path) -> None:
    text = "\ufeff0.0.0.0 a.example.com\r\n0.0.0.0 B.example.com\r\n127.0.0.1 localhost\r\n"
    path = tmp_path / "hosts.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    names, report = read_source_file(path)
    assert names == ["a.example.com", "b.example.com"]
    assert report.format == SourceFormat.HOSTS
    assert report.source == str(path)
    assert counts(report) == {"localhost entry": 1}


def test_the_format_given_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("||a.example.com^\n")
    names, report = read_source_file(path, SourceFormat.DOMAINS)
    assert names == []
    assert counts(report) == {"characters not allowed in a host name": 1}


def test_bytes_that_are_not_utf8_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9.example\nok.example\n")
    names, report = read_source_file(path, SourceFormat.DOMAINS)
    assert names == ["ok.example"]
    assert report.skipped == {
        "bytes that are neither ASCII nor UTF-8": (1, "line 1: caf\\udce9.example")
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read list source"),
        (gzip.compress(b"a.example\n" * 100)[:-12], "cannot read list source"),
        (b"\x1f\x8bnot really gzip", "cannot read list source"),
        (b"blacklists/\x00\x00\x00\x00", "binary data"),
    ],
)
def test_an_unreadable_file_raises_naming_it(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "broken.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ListSourceError, match=message) as info:
        read_source_file(path)
    assert str(path) in str(info.value)


def test_a_directory_is_not_a_list(tmp_path: Path) -> None:
    with pytest.raises(ListSourceError, match=re.escape(str(tmp_path))):
        read_source_file(tmp_path)


# --- the chunked fast path gives what the line-by-line path gives ----------

POOL = [
    "a.example.com",
    "b.example.com",
    "c.example.org",
    "under_score.example",
    "Upper.Example.com",
    ".lead.example.com",
    "10.0.0.1",
    "localhost.localdomain",
    "localhost",
    "x" * 64 + ".example",
    "a..b",
    "",
    "# comment",
    "trail.example.com  ",
    "trail.example.com",
    "1.2.3",
    "münchen.de",
]


def never_clean(chunk: list[str], seen: set[str]) -> dict[str, None] | None:
    """Stands in for the fast path's check: every chunk goes line by line."""
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(POOL), max_size=40), st.integers(min_value=1, max_value=8))
def test_chunked_domains_reading_matches_line_by_line(lines: list[str], chunk: int) -> None:
    chunked = ImportReport("chunked")
    slow = ImportReport("slow")
    original_chunk, original_clean = sources.CHUNK_LINES, sources._clean_chunk
    try:
        sources.CHUNK_LINES = chunk
        fast_names = list(read_source_lines(lines, SourceFormat.DOMAINS, chunked))
        sources._clean_chunk = never_clean
        slow_names = list(read_source_lines(lines, SourceFormat.DOMAINS, slow))
    finally:
        sources.CHUNK_LINES, sources._clean_chunk = original_chunk, original_clean
    assert fast_names == slow_names
    assert (chunked.taken, chunked.skipped) == (slow.taken, slow.skipped)


def test_a_clean_chunk_takes_the_fast_path() -> None:
    lines = [f"host{i}.example.com" for i in range(3000)]
    assert sources._clean_chunk(lines[:1024], set()) is not None
    names, report = read(lines, SourceFormat.DOMAINS)
    assert names == lines and report.taken == 3000 and report.skipped == {}


# --- nothing but valid names ever comes out ---------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=20), st.sampled_from(list(SourceFormat)))
def test_any_text_yields_only_valid_distinct_names(lines: list[str], fmt: SourceFormat) -> None:
    names, report = read(lines, fmt)
    assert len(names) == len(set(names)) == report.taken
    for name in names:
        normal = name_from_bytes(name.encode())
        assert normal.valid and normal.text == name


# --- category aliases --------------------------------------------------------


def test_an_alias_resolves_to_its_category_through_chains() -> None:
    aliases = {"porn": "adult", "xxx": "porn", "proxy": "redirector"}
    assert sources.resolve_category("proxy", aliases) == "redirector"
    assert sources.resolve_category("xxx", aliases) == "adult"
    assert sources.resolve_category("adult", aliases) == "adult"
    assert sources.resolve_category("games", {}) == "games"


def test_aliases_in_a_circle_are_an_error() -> None:
    with pytest.raises(ListSourceError, match="circle"):
        sources.resolve_category("a", {"a": "b", "b": "a"})


def test_merging_aliases_refuses_one_name_for_two_categories() -> None:
    known = {"porn": "adult"}
    sources.merge_aliases(known, {"porn": "adult", "proxy": "redirector"}, "second")
    assert known == {"porn": "adult", "proxy": "redirector"}
    with pytest.raises(ListSourceError, match="third: category alias 'porn'"):
        sources.merge_aliases(known, {"porn": "mixed_adult"}, "third")
