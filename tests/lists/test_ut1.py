"""UT1 blacklists: catalogue, aliases resolved, urls never read, tarball and tree alike."""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from copgate.errors import ListSourceError
from copgate.lists.model import Category, DefaultUse, ListEntry
from copgate.lists.ut1 import Ut1Set, read_global_usage, read_usage, read_ut1, ut1_entries
from tests.conftest import shared_data

GLOBAL_USAGE = """#
#\tNAME : name of tar blacklist
#\tDEFAULT_TYPE : what is the primary use of this blacklist
#
NAME:\tadult
DEFAULT_TYPE: black
SOURCE: https://squidguard.example
DESC EN: Adult sites.
DESC FR: Sites adultes.
NAME EN: Adult (X)
NAME FR: Adulte (X)
NAME RU: Эротика

NAME:   kids
DEFAULT_TYPE:\twhite
NAME EN: Kids

NAME: gambling
DEFAULT_TYPE: black
NAME EN: Gambling

NAME: adult
DEFAULT_TYPE: white
NAME EN: a second record of a name is ignored
"""

FILES = {
    "global_usage": GLOBAL_USAGE,
    "adult/domains": (
        "adult-one.example\n.lead.example\n10.0.0.1\nshared.example\nadult-one.example\n"
    ),
    "adult/urls": "onlyinurls.example/page.html\nadult-one.example/x\n",
    "adult/expressions": "(porn|sex)\n",
    "adult/usage": "black\nadult\nporn\n",
    "kids/domains": "kids.example\r\nshared.example\r\n",
    "kids/usage": "black white\n",
    "extra/domains": "extra.example\n",
    "extra/usage": "# not in global_usage\nwhite\nextra\n",
    "nousage/domains": "nousage.example\n",
}
LINKS = {"porn": "adult", "xxx": "porn", "dangling": "nowhere"}


def build_tree(root: Path) -> Path:
    """A small UT1 tree on disk: root/blacklists/..."""
    top = root / "blacklists"
    for relative, text in FILES.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    for alias, target in LINKS.items():
        os.symlink(target, top / alias)
    return top


def build_tarball(root: Path) -> Path:
    top = build_tree(root / "tree")
    tarball = root / "blacklists.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(top, arcname="blacklists")  # symlinks stay symlink members
    return tarball


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return build_tarball(tmp_path)


def test_tarball_symlinks_are_symlink_members(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        links = {m.name: m.linkname for m in tar.getmembers() if m.issym()}
    assert links == {f"blacklists/{alias}": target for alias, target in LINKS.items()}


def test_small_tarball_catalogue(tarball: Path) -> None:
    ut1 = read_ut1(tarball)
    assert set(ut1.catalogue) == {"adult", "kids", "gambling", "extra", "nousage"}
    adult = ut1.catalogue["adult"]
    assert adult.default_use is DefaultUse.BLACK  # the second record is ignored
    assert adult.titles == {"en": "Adult (X)", "fr": "Adulte (X)", "ru": "Эротика"}
    assert adult.descriptions == {"en": "Adult sites.", "fr": "Sites adultes."}
    # kids: global_usage says white, its usage file black first: global_usage wins.
    assert ut1.catalogue["kids"].default_use is DefaultUse.WHITE
    # Not in global_usage: the usage file decides, else black.
    assert ut1.catalogue["extra"] == Category("extra", DefaultUse.WHITE)
    assert ut1.catalogue["nousage"] == Category("nousage", DefaultUse.BLACK)
    assert ut1.catalogue["gambling"].default_use is DefaultUse.BLACK  # no directory at all


def test_small_tarball_domains_aliases_and_urls(tarball: Path) -> None:
    ut1 = read_ut1(tarball)
    assert ut1.aliases == {"porn": "adult", "xxx": "adult"}
    assert ut1.domains == {
        "adult": ["adult-one.example", "lead.example", "shared.example"],
        "extra": ["extra.example"],
        "kids": ["kids.example", "shared.example"],
        "nousage": ["nousage.example"],
    }
    every_name = {name for names in ut1.domains.values() for name in names}
    assert "onlyinurls.example" not in every_name
    assert "onlyinurls.example" not in {entry.name for entry in ut1_entries(ut1)}


def test_small_tarball_reports(tarball: Path) -> None:
    ut1 = read_ut1(tarball)
    archive, *per_file = ut1.reports
    assert archive.source == str(tarball)
    assert archive.taken == 7
    assert archive.skipped == {
        "urls file, never read as names": (1, "blacklists/adult/urls"),
        "expressions file, never read as names": (1, "blacklists/adult/expressions"),
        "alias to no category": (1, "dangling -> nowhere"),
        "usage file disagrees with global_usage (global_usage kept)": (
            1,
            "kids/usage: black, global_usage: white",
        ),
    }
    adult = next(r for r in per_file if r.source.endswith("blacklists/adult/domains"))
    assert adult.source == f"{tarball}:blacklists/adult/domains"
    assert adult.skipped == {
        "ip address": (1, "line 3: 10.0.0.1"),
        "duplicate": (1, "line 5: adult-one.example"),
    }
    assert adult.summary().startswith(f"{tarball}:blacklists/adult/domains (domains): 3 names")


def test_entries_union_categories_and_white_only_when_all_are_white(tarball: Path) -> None:
    entries = {entry.name: entry for entry in ut1_entries(read_ut1(tarball))}
    assert len(entries) == 6
    assert entries["shared.example"] == ListEntry("shared.example", frozenset({"adult", "kids"}))
    assert entries["kids.example"] == ListEntry("kids.example", frozenset({"kids"}), white=True)
    assert entries["extra.example"].white
    assert not entries["adult-one.example"].white
    assert not entries["nousage.example"].white


def test_extracted_tree_reads_like_the_tarball(tmp_path: Path) -> None:
    from_tar = read_ut1(build_tarball(tmp_path / "a"))
    top = build_tree(tmp_path / "b")
    for path in (top.parent, top):
        from_tree = read_ut1(path)
        assert from_tree.domains == from_tar.domains
        assert from_tree.aliases == from_tar.aliases
        assert from_tree.catalogue == from_tar.catalogue
        assert from_tree.reports[0].skipped.keys() == from_tar.reports[0].skipped.keys()
        assert list(ut1_entries(from_tree)) == list(ut1_entries(from_tar))


@pytest.mark.parametrize(
    ("wanted", "read"),
    [
        (["porn"], ["adult"]),
        (["xxx", "kids"], ["adult", "kids"]),
        (["gambling"], []),
        ([], []),
    ],
)
def test_categories_limit_what_is_read(tarball: Path, wanted: list[str], read: list[str]) -> None:
    ut1 = read_ut1(tarball, wanted)
    assert sorted(ut1.domains) == read
    assert len(ut1.catalogue) == 5  # the catalogue is always whole
    assert [r.source.rsplit("/", 2)[1] for r in ut1.reports[1:]] == read


def test_an_unknown_category_is_an_error(tarball: Path) -> None:
    with pytest.raises(ListSourceError, match="no UT1 category nosuch"):
        read_ut1(tarball, ["kids", "nosuch"])


def test_an_unreadable_tarball_is_an_error(tmp_path: Path, tarball: Path) -> None:
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(tarball.read_bytes()[:300])
    for path in (truncated, tmp_path / "absent.tar.gz"):
        with pytest.raises(ListSourceError, match=re.escape(str(path))):
            read_ut1(path)
    with pytest.raises(ListSourceError, match="not a UT1 tree"):
        read_ut1(tmp_path / "tree" / "blacklists" / "adult")


def test_a_tarball_without_the_blacklists_directory(tmp_path: Path) -> None:
    tarball = tmp_path / "flat.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        data = b"flat.example\n"
        info = tarfile.TarInfo("cat/domains")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ut1 = read_ut1(tarball)
    assert ut1.domains == {"cat": ["flat.example"]}
    assert ut1.catalogue == {"cat": Category("cat", DefaultUse.BLACK)}


def test_global_usage_garbage_is_an_error() -> None:
    with pytest.raises(ListSourceError, match=r"gu\.txt"):
        read_global_usage("this is not a catalogue\n", "gu.txt")
    assert read_global_usage("# only comments\n", "gu.txt") == {}


def test_global_usage_record_without_type_is_black() -> None:
    catalogue = read_global_usage("NAME: x\nNAME EN: X\nDEFAULT_TYPE: grey\n", "gu")
    assert catalogue == {"x": Category("x", DefaultUse.BLACK)}
    assert catalogue["x"].titles == {"en": "X"}


def test_usage_file_first_black_or_white_word() -> None:
    assert read_usage("# comment white\nwhite black\n") is DefaultUse.WHITE
    assert read_usage("#\tthis category contains blog sites\nblack\n") is DefaultUse.BLACK
    assert read_usage("keywords only\n") is None


# --- the real UT1 tarball ---------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Ut1Set:
    return read_ut1(shared_data("lists/ut1/blacklists.tar.gz"))


@pytest.mark.shared_data
def test_real_catalogue_has_descriptions_in_several_languages(real: Ut1Set) -> None:
    assert len(real.catalogue) >= 66
    adult = real.catalogue["adult"]
    assert adult.default_use is DefaultUse.BLACK
    assert {"en", "fr", "ru", "de", "es", "it", "nl"} <= adult.titles.keys()
    assert adult.titles["fr"] == "Adulte (X)"
    assert {"en", "fr", "ru", "es"} <= adult.descriptions.keys()
    assert "adult" not in real.domains  # catalogued, but its domains file is not shipped
    assert real.catalogue["liste_bu"].default_use is DefaultUse.WHITE
    # Not in global_usage: white because its usage file says so.
    assert real.catalogue["liste_blanche"].default_use is DefaultUse.WHITE
    assert real.catalogue["gambling"].default_use is DefaultUse.BLACK


@pytest.mark.shared_data
def test_real_aliases_are_resolved_not_duplicated(real: Ut1Set) -> None:
    assert real.aliases == {
        "porn": "adult",
        "drugs": "drogue",
        "ads": "publicite",
        "aggressive": "agressif",
        "violence": "agressif",
        "mail": "forums",
        "proxy": "redirector",
    }
    assert not real.aliases.keys() & real.domains.keys()
    assert not real.aliases.keys() & real.catalogue.keys()


@pytest.mark.shared_data
def test_real_known_names_and_urls_never_read(real: Ut1Set) -> None:
    assert "0-24bpautomentes.hu" in real.domains["drogue"]
    assert "afshin.ir" in real.domains["dynamic-dns"]  # listed as .afshin.ir
    assert "wikipedia.org" in real.domains["liste_bu"]
    entries = {entry.name: entry for entry in ut1_entries(real)}
    assert entries["0-24bpautomentes.hu"].categories == frozenset({"drogue"})
    assert entries["123travail.com"] == ListEntry(
        "123travail.com", frozenset({"liste_bu"}), white=True
    )
    # Hosts named only in urls files (download/urls, agressif/urls).
    assert "01net.com" not in entries
    assert "adl.org" not in entries


@pytest.mark.shared_data
def test_real_reports_count_the_ip_addresses(real: Ut1Set) -> None:
    archive = real.reports[0]
    assert archive.skipped["urls file, never read as names"][0] >= 50
    redirector = next(r for r in real.reports if r.source.endswith("/redirector/domains"))
    assert redirector.skipped["ip address"] == (22530, "line 464: 1.0.255.159")
    assert archive.taken == sum(len(names) for names in real.domains.values())


@pytest.mark.shared_data
def test_real_alias_as_a_wanted_category() -> None:
    ut1 = read_ut1(shared_data("lists/ut1/blacklists.tar.gz"), ["drugs"])
    assert list(ut1.domains) == ["drogue"]
    assert len(ut1.domains["drogue"]) == 436
