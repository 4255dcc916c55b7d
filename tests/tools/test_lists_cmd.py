"""``copgate compile`` and ``copgate lookup`` through the real command line.

Each test runs ``copgate.cli.main`` with arguments as a shell would pass
them, reads what it prints, and checks the file it installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from copgate.cli import main
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.lists.ut1 import read_ut1, ut1_entries
from copgate.tools.lists_cmd import parse_size, parse_source
from tests.conftest import shared_data

DIRTY = (
    "# a list as people write them\r\n"
    "Ads.Example.COM\r\n"
    ".tracker.net\r\n"
    "*.wild.org\r\n"
    "10.0.0.1\r\n"
    "b\u00fccher.de\r\n"
    "ads.example.com\r\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def lookup_json(capsys: pytest.CaptureFixture[str], cache: Path, *names: str) -> list[Any]:
    status, out, _err = run(capsys, "lookup", str(cache), *names, "--json")
    assert status == 0
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def dirty_list(tmp_path: Path) -> Path:
    path = tmp_path / "ads.txt"
    path.write_bytes(DIRTY.encode())
    return path


def test_compile_then_lookup_json(
    capsys: pytest.CaptureFixture[str], dirty_list: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lists.cache"
    status, out, _err = run(
        capsys, "compile", str(dirty_list), "--category", "ads", "-o", str(output)
    )
    assert status == 0
    assert f"{dirty_list} (domains): 4 names taken" in out
    assert "ip address: 1" in out
    final = out.splitlines()[-1]
    assert re.fullmatch(
        rf"{re.escape(str(output))}: 4 names \(4 black, 0 white, 1 categories\), "
        r"\d+ bytes, [\d.]+ bytes/name, [\d.]+ s",
        final,
    ), final
    verify_cache_file(output)

    records = lookup_json(
        capsys,
        output,
        "WWW.Ads.Example.com.",
        "x.tracker.net",
        "wild.org",
        "google.com",
        "www.b\u00fccher.de",
    )
    assert records[0] == {
        "name": "www.ads.example.com",
        "listed": True,
        "match": "ads.example.com",
        "categories": ["ads"],
        "white": False,
        "list": "lists",  # the cache file's stem
        "valid": True,
    }
    assert records[1]["match"] == "tracker.net"
    assert records[2]["match"] == "wild.org"
    assert records[3] == {
        "name": "google.com",
        "listed": False,
        "match": None,
        "categories": [],
        "white": False,
        "list": None,
        "valid": True,
    }
    assert records[4]["name"] == "www.xn--bcher-kva.de"
    assert records[4]["match"] == "xn--bcher-kva.de"


def test_lookup_text_output(
    capsys: pytest.CaptureFixture[str], dirty_list: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lists.cache"
    run(capsys, "compile", str(dirty_list), "--category", "ads", "-o", str(output))
    status, out, _err = run(capsys, "lookup", str(output), "a.tracker.net", "example.org")
    assert status == 0
    assert out.splitlines() == [
        "a.tracker.net: black (match tracker.net; categories ads)",
        "example.org: not listed",
    ]


def test_invalid_name_is_reported_not_crashed(
    capsys: pytest.CaptureFixture[str], dirty_list: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lists.cache"
    run(capsys, "compile", str(dirty_list), "--category", "ads", "-o", str(output))
    [record] = lookup_json(capsys, output, "a..b")
    assert record["valid"] is False and record["listed"] is False
    assert record["reason"] == "an empty label"


def test_category_per_source_and_white(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    games = tmp_path / "games.txt"
    games.write_text("play.example\n")
    news = tmp_path / "news.hosts"
    news.write_text("0.0.0.0 paper.example\n0.0.0.0 play.example\n")
    output = tmp_path / "lists.cache"
    status, _out, _err = run(capsys, "compile", f"games={games}", f"news={news}", "-o", str(output))
    assert status == 0
    records = lookup_json(capsys, output, "play.example", "www.paper.example")
    assert records[0]["categories"] == ["games", "news"]
    assert records[1]["categories"] == ["news"]

    allowed = tmp_path / "allowed.txt"
    allowed.write_text("school.example\n")
    white_cache = tmp_path / "white.cache"
    status, out, _ = run(
        capsys, "compile", str(allowed), "--category", "school", "--white", "-o", str(white_cache)
    )
    assert status == 0 and "(0 black, 1 white" in out
    [record] = lookup_json(capsys, white_cache, "www.school.example")
    assert (record["white"], record["match"], record["list"]) == (True, "school.example", "white")
    with ListCache.open(white_cache) as cache:
        assert cache.catalogue()["school"].default_use.value == "white"


def test_a_manifest_source_compiles_the_default_lists_beside_own_sources(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # An operator's own list goes into one cache with the shipped defaults.
    manifest = Path(__file__).resolve().parents[2] / "lists" / "manifest.toml"
    own = tmp_path / "own.txt"
    own.write_text("proxy.example\n")
    output = tmp_path / "lists.cgc"
    status, out, _err = run(capsys, "compile", str(manifest), f"proxy={own}", "-o", str(output))
    assert status == 0
    assert "lists/categories/gambling.txt (domains):" in out
    assert f"{own} (domains): 1 names taken" in out
    # proxy is the manifest's alias of redirector, the category templates block.
    assert f"{own}: category proxy is an alias of redirector" in out
    gambling, starter, proxy = lookup_json(
        capsys, output, "www.pokerstars.com", "www.khanacademy.org", "a.proxy.example"
    )
    assert (gambling["categories"], gambling["white"]) == (["gambling"], False)
    assert (starter["categories"], starter["white"]) == (["starter_whitelist"], True)
    assert proxy["categories"] == ["redirector"]
    with ListCache.open(output) as cache:
        assert cache.catalogue()["gambling"].default_use.value == "black"
        assert "proxy" not in cache.catalogue()


def _alias_manifest(tmp_path: Path, aliases: str) -> Path:
    listed = tmp_path / "adult.txt"
    listed.write_text("adult.example\n")
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f'[[list]]\npath = "adult.txt"\ncategory = "porn"\nwhite = false\n\n[aliases]\n{aliases}\n'
    )
    return manifest


def test_aliases_apply_to_every_category_given_wherever_the_manifest_stands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = _alias_manifest(tmp_path, 'porn = "adult"\nxxx = "porn"')
    mine = tmp_path / "mine.txt"
    mine.write_text("mine.example\n")
    other = tmp_path / "other.txt"
    other.write_text("other.example\n")
    output = tmp_path / "lists.cgc"
    # The plain sources come first: the manifest's aliases still apply to them.
    argv = [f"xxx={mine}", str(other), str(manifest), "--category", "porn", "-o", str(output)]
    status, out, _err = run(capsys, "compile", *argv)
    assert status == 0
    assert f"{mine}: category xxx is an alias of adult" in out
    listed, from_mine, from_other = lookup_json(
        capsys, output, "adult.example", "mine.example", "other.example"
    )
    assert listed["categories"] == ["adult"]  # the manifest's own entry, category "porn"
    assert from_mine["categories"] == ["adult"]  # xxx -> porn -> adult
    assert from_other["categories"] == ["adult"]
    with ListCache.open(output) as cache:
        assert set(cache.catalogue()) == {"adult"}


def test_an_alias_that_means_two_categories_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = _alias_manifest(tmp_path, 'porn = "adult"')
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = _alias_manifest(second_dir, 'porn = "mixed_adult"')
    output = tmp_path / "lists.cgc"
    status, _out, err = run(capsys, "compile", str(first), str(second), "-o", str(output))
    assert status == 2
    assert "'porn'" in err and "'mixed_adult'" in err and str(second) in err
    assert not output.exists()


def test_a_broken_manifest_names_its_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[[list]]\npath = "a.txt"\n')
    status, _out, err = run(capsys, "compile", str(manifest), "-o", str(tmp_path / "x.cgc"))
    assert status == 2
    assert str(manifest) in err and "lacks path, category or white" in err


def test_plain_source_without_category_is_refused(
    capsys: pytest.CaptureFixture[str], dirty_list: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lists.cache"
    status, _out, err = run(capsys, "compile", str(dirty_list), "-o", str(output))
    assert status == 2
    assert str(dirty_list) in err and "--category" in err
    assert not output.exists()


def test_budget_refusal(
    capsys: pytest.CaptureFixture[str], dirty_list: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lists.cache"
    status, _out, err = run(
        capsys, "compile", str(dirty_list), "--category", "ads", "-o", str(output), "--budget", "1K"
    )
    assert status == 2
    assert re.search(r"needs \d+ bytes .* over the budget of 1024 bytes", err), err
    assert not output.exists()


def test_lookup_of_a_corrupt_cache_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.cache"
    bad.write_bytes(b"not a cache at all, but long enough to hold a header? no." * 10)
    status, out, err = run(capsys, "lookup", str(bad), "example.com")
    assert status == 2 and out == ""
    assert str(bad) in err and "not a copgate list cache" in err


def test_missing_source_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    absent = tmp_path / "absent.txt"
    status, _out, err = run(
        capsys, "compile", str(absent), "--category", "x", "-o", str(tmp_path / "c")
    )
    assert status == 2 and str(absent) in err


@pytest.mark.parametrize(
    ("text", "size"),
    [("8000000", 8_000_000), ("512K", 524_288), ("8M", 8_388_608), ("7.5MiB", 7_864_320)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_source_forms(tmp_path: Path) -> None:
    assert parse_source("adult=lists/a.txt").categories == ("adult",)
    assert parse_source("a,b=x.txt").categories == ("a", "b")
    assert parse_source("plain.txt").categories is None
    odd = tmp_path / "odd=name.txt"
    odd.write_text("x.com\n")
    assert parse_source(str(odd)).path == odd  # an existing path stays a path


@pytest.mark.shared_data
def test_every_format_sample_compiles_to_the_same_answers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = shared_data("lists/blocklistproject")
    domains = [
        line.strip()
        for line in (folder / "drugs.domains.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sample = domains[:: max(1, len(domains) // 300)]
    answers = {}
    for fmt in ("domains", "hosts", "adblock", "dnsmasq"):
        output = tmp_path / f"{fmt}.cache"
        source = folder / f"drugs.{fmt}.txt"
        status, out, _err = run(capsys, "compile", f"drugs={source}", "-o", str(output))
        assert status == 0 and f"({fmt})" in out
        answers[fmt] = [r["match"] for r in lookup_json(capsys, output, *sample)]
    assert all(match is not None for match in answers["domains"])
    assert answers["hosts"] == answers["adblock"] == answers["dnsmasq"] == answers["domains"]


@pytest.mark.shared_data
def test_ut1_tarball_gives_its_own_categories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tarball = shared_data("lists/ut1/blacklists.tar.gz")
    output = tmp_path / "ut1.cache"
    status, out, _err = run(capsys, "compile", str(tarball), "-o", str(output))
    assert status == 0
    assert re.search(r"\d+ names \(\d+ black, [1-9]\d* white, [1-9]\d+ categories\)", out), out
    header = verify_cache_file(output)
    assert header.set_width == 2  # UT1 holds more than 256 distinct category sets
    entries = list(ut1_entries(read_ut1(tarball)))
    black_entry = next(e for e in entries if "gambling" in e.categories and not e.white)
    white_entry = next(e for e in entries if e.white)
    black_record, white_record = lookup_json(
        capsys, output, "www." + black_entry.name, white_entry.name
    )
    assert black_record["listed"] and not black_record["white"]
    assert black_record["match"] in ("www." + black_entry.name, black_entry.name)
    if black_record["match"] == black_entry.name:
        assert black_record["categories"] == sorted(black_entry.categories)
    assert white_record["white"] and white_record["match"] == white_entry.name
    assert white_record["categories"] == sorted(white_entry.categories)
    with ListCache.open(output) as cache:
        assert cache.catalogue()["gambling"].titles
