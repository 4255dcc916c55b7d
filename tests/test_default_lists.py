"""The lists a router filters with from first boot: lists/ and its templates.

Every list file must be clean (each line a normalised name, no duplicates, no
name its own parent already covers, a header naming what it is and under which
licence), the manifest must name every file with a category of the shipped
catalogue, the templates must load and use only those categories, the curated
tables must agree with the policy code that enforces them, the derived lists
must come out byte for byte the same when tools/derive_default_lists.py runs
again on ../shared/data, and the whole must fit a 128 MB router.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from copgate.lists.compile import EntryTable, build_cache
from copgate.lists.model import Category, DefaultUse
from copgate.lists.sources import SourceFormat, read_source_file, read_text
from copgate.lists.ut1 import read_global_usage
from copgate.policy import safesearch
from copgate.policy.model import YouTubeMode
from copgate.wire.names import name_from_bytes
from tests.conftest import PROJECT_ROOT, SHARED_DATA, shared_data

LISTS = PROJECT_ROOT / "lists"
CATEGORIES = LISTS / "categories"
TEMPLATES = LISTS / "templates"
DERIVE_SCRIPT = PROJECT_ROOT / "tools" / "derive_default_lists.py"

CURATED_LISTS = ("infrastructure.txt", "starter-whitelist.txt", "doh-resolvers.txt", "canaries.txt")
TEMPLATE_NAMES = {
    "school",
    "primary-walled-garden",
    "home-young-children",
    "home-teenagers",
    "staff",
}

MAX_NAMES = 600_000
"""Names across every default list: at the cache's 8.5 bytes a name (issue 3),
at most 5.1 MB of a 128 MB router's memory."""
MAX_CACHE_BYTES = 4 * 1024 * 1024
"""The compiled default cache, mapped read-only: about 3 % of a 128 MB router."""
MAX_TEXT_BYTES = 8 * 1024 * 1024
"""The source files the package carries to compile on first boot: flash is small too."""

# The group options of the config vocabulary (issue 4 spec) a template may set:
# all but who is in the group (interfaces, addresses, macs) and template itself.
TEMPLATE_GROUP_KEYS = {
    "description",
    "mode",
    "block_categories",
    "allow_categories",
    "allow",
    "block",
    "safe_search",
    "youtube",
    "failure",
    "unreadable",
    "invalid_names",
    "block_dot",
    "block_doh",
    "canaries",
    "https_records_nodata",
    "refuse_real_ech",
    "refuse_quic",
    "refuse_bare_ip",
    "evasion",
    "window",
}
BYPASS_SWITCHES = (
    "block_dot",
    "block_doh",
    "canaries",
    "https_records_nodata",
    "refuse_real_ech",
    "refuse_quic",
    "refuse_bare_ip",
)
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


# --- helpers -----------------------------------------------------------------


def data_lines(path: Path) -> list[str]:
    """The lines of a list file (plain or gzip) that are not blank and not comments."""
    lines = read_text(path).split("\n")
    return [line for line in lines if line.strip() and not line.startswith("#")]


def derived_lists() -> list[Path]:
    """Every generated list file in lists/categories: ``.txt``, or ``.txt.gz`` for the largest."""
    return sorted([*CATEGORIES.glob("*.txt"), *CATEGORIES.glob("*.txt.gz")])


def plain_lists() -> list[Path]:
    """Every plain-domains list file in lists/: curated and derived."""
    return [LISTS / name for name in CURATED_LISTS] + derived_lists()


def parent_covers(name: str, listed: set[str]) -> str | None:
    """The listed strict parent of ``name``, or None."""
    labels = name.split(".")
    for start in range(1, len(labels)):
        parent = ".".join(labels[start:])
        if parent in listed:
            return parent
    return None


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_derive_script() -> ModuleType:
    """tools/derive_default_lists.py as a module (it is a script, not in the package)."""
    spec = importlib.util.spec_from_file_location("derive_default_lists", DERIVE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_catalogue() -> dict[str, Category]:
    """The shipped catalogue, read the way copgate compile reads UT1's."""
    path = CATEGORIES / "global_usage"
    return read_global_usage(path.read_text(encoding="utf-8"), str(path))


CATALOGUE = read_catalogue()
MANIFEST = load_toml(LISTS / "manifest.toml")


def template_categories(group: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(option, category) for every category a template's group names."""
    for option in ("block_categories", "allow_categories"):
        for category in group.get(option, []):
            yield option, category
    for window in group.get("window", []):
        for category in window.get("categories", []):
            yield "window categories", category


# --- every list file ---------------------------------------------------------


@pytest.mark.parametrize("path", plain_lists(), ids=lambda path: path.name)
def test_every_line_is_a_normalised_name_once(path: Path) -> None:
    lines = data_lines(path)
    for line in lines:
        name = name_from_bytes(line.encode("utf-8"))
        assert name.valid, f"{path.name}: {line!r}: {name.reason}"
        assert name.text == line, f"{path.name}: {line!r} is not normalised ({name.text!r})"
        assert "." in line, f"{path.name}: {line!r} is a single label"
    duplicates = sorted(name for name, count in Counter(lines).items() if count > 1)
    assert duplicates == [], path.name


@pytest.mark.parametrize("path", plain_lists(), ids=lambda path: path.name)
def test_no_name_is_covered_by_its_own_parent(path: Path) -> None:
    # A listed name covers its subdomains: a child of a listed name is dead weight.
    listed = set(data_lines(path))
    redundant = {name: parent_covers(name, listed) for name in listed}
    assert {n: p for n, p in redundant.items() if p} == {}


@pytest.mark.parametrize("path", plain_lists(), ids=lambda path: path.name)
def test_project_reader_takes_every_line(path: Path) -> None:
    # What copgate compile reads is exactly what the file says: nothing skipped.
    names, report = read_source_file(path, SourceFormat.DOMAINS)
    assert report.skipped == {}
    assert names == data_lines(path)


@pytest.mark.parametrize("path", plain_lists(), ids=lambda path: path.name)
def test_header_says_what_and_under_which_licence(path: Path) -> None:
    header = read_text(path).split("\n\n")[0]
    assert header.startswith("# copgate ")
    assert "Licence:" in header
    if path.parent == CATEGORIES:
        assert "Source:" in header
        assert "tools/derive_default_lists.py" in header
        if "." not in path.stem:  # UT1's files: <category>.txt
            assert "CC BY-SA 4.0" in header
            assert "lists/LICENSE-UT1.txt" in header


def test_derived_file_counts_match_their_headers() -> None:
    for path in derived_lists():
        found = re.search(r"names here: (\d+)", read_text(path))
        assert found is not None, path.name
        assert int(found[1]) == len(data_lines(path)), path.name


# --- manifest and catalogue --------------------------------------------------


def test_manifest_names_every_list_file_and_nothing_else() -> None:
    listed = [entry["path"] for entry in MANIFEST["list"]]
    assert len(set(listed)) == len(listed)
    on_disk = {f"categories/{path.name}" for path in derived_lists()}
    compiled_curated = set(CURATED_LISTS) - {"canaries.txt"}  # policy holds the canaries
    assert set(listed) == on_disk | compiled_curated
    assert MANIFEST["catalogue"] == "categories/global_usage"


def test_manifest_categories_and_uses_agree_with_the_catalogue() -> None:
    for entry in MANIFEST["list"]:
        category = entry["category"]
        assert category in CATALOGUE, entry["path"]
        assert entry["white"] == (CATALOGUE[category].default_use is DefaultUse.WHITE), entry[
            "path"
        ]
        assert entry["licence"] and entry["source"]
        if "names" in entry:
            assert entry["names"] == len(data_lines(LISTS / entry["path"])), entry["path"]


def test_curated_categories_are_the_ones_policy_reads() -> None:
    # Spec: infrastructure and the starter list are white entries of these
    # categories, the DoH resolvers black entries of "doh".
    by_path = {entry["path"]: entry for entry in MANIFEST["list"]}
    assert (by_path["infrastructure.txt"]["category"], by_path["infrastructure.txt"]["white"]) == (
        "infrastructure",
        True,
    )
    starter = by_path["starter-whitelist.txt"]
    assert (starter["category"], starter["white"]) == ("starter_whitelist", True)
    assert (by_path["doh-resolvers.txt"]["category"], by_path["doh-resolvers.txt"]["white"]) == (
        "doh",
        False,
    )


def test_catalogue_has_every_shipped_category_in_three_languages() -> None:
    shipped = {entry["category"] for entry in MANIFEST["list"]}
    assert set(CATALOGUE) == shipped
    for category, entry in CATALOGUE.items():
        assert set(entry.titles) == {"en", "fr", "ru"}, category
        assert set(entry.descriptions) == {"en", "fr", "ru"}, category
        assert all(entry.titles.values()) and all(entry.descriptions.values()), category
        assert CYRILLIC.search(entry.titles["ru"]), category
        assert CYRILLIC.search(entry.descriptions["ru"]), category


def test_catalogue_keeps_ut1_texts_and_types() -> None:
    # English and French come from UT1 as written; the default use is UT1's.
    assert CATALOGUE["gambling"].titles["en"] == "Gambling/Casino games"
    assert CATALOGUE["drogue"].descriptions["fr"] == "Drogue."
    assert CATALOGUE["redirector"].default_use is DefaultUse.BLACK


def test_white_categories_are_marked_white() -> None:
    white = {name for name, entry in CATALOGUE.items() if entry.default_use is DefaultUse.WHITE}
    assert white == {
        "child",
        "educational_games",
        "infrastructure",
        "liste_bu",
        "sexual_education",
        "starter_whitelist",
        "translation",
    }


def test_aliases_point_at_shipped_categories() -> None:
    aliases = MANIFEST["aliases"]
    assert aliases["porn"] == "adult"
    assert aliases["drugs"] == "drogue"
    assert set(aliases.values()) <= set(CATALOGUE)
    assert not set(aliases) & set(CATALOGUE)


def test_readme_accounts_for_every_category(derive: ModuleType) -> None:
    readme = (LISTS / "README.md").read_text(encoding="utf-8")
    for category in [*CATALOGUE, *derive.load_selection(LISTS / "selection.toml").left_out]:
        assert f"`{category}`" in readme, category


# --- templates ---------------------------------------------------------------


def test_the_five_templates_ship() -> None:
    assert {path.stem for path in TEMPLATES.glob("*.toml")} == TEMPLATE_NAMES


@pytest.mark.parametrize("name", sorted(TEMPLATE_NAMES))
def test_template_has_english_and_russian_texts(name: str) -> None:
    meta = load_toml(TEMPLATES / f"{name}.toml")["template"]
    assert meta["name"] == name
    for key in ("title", "description"):
        assert set(meta[key]) == {"en", "ru"}, key
        assert CYRILLIC.search(meta[key]["ru"]), f"{key}.ru is not Russian"
        assert not CYRILLIC.search(meta[key]["en"]), f"{key}.en is not English"
        assert "  " not in meta[key]["en"] + meta[key]["ru"], f"{key}: a broken line join"


@pytest.mark.parametrize("name", sorted(TEMPLATE_NAMES))
def test_template_uses_the_config_vocabulary_and_shipped_categories(name: str) -> None:
    data = load_toml(TEMPLATES / f"{name}.toml")
    assert set(data) == {"template", "group"}
    group = data["group"]
    assert set(group) <= TEMPLATE_GROUP_KEYS
    assert group["mode"] in {"filter", "whitelist", "off"}
    for option, category in template_categories(group):
        assert category in CATALOGUE, f"{option}: {category}"
        use = CATALOGUE[category].default_use
        # Black categories block; white ones open a walled garden.
        wanted = DefaultUse.WHITE if option == "allow_categories" else DefaultUse.BLACK
        assert use is wanted, category
    for window in group.get("window", []):
        assert set(window) <= {"days", "start", "end", "block", "categories"}
        assert ("block" in window) != ("categories" in window)


@pytest.mark.parametrize(
    ("name", "mode", "safe_search", "youtube", "failure", "unreadable"),
    [
        ("school", "filter", True, "moderate", "open", "allow"),
        ("primary-walled-garden", "whitelist", True, "strict", "closed", "refuse"),
        ("home-young-children", "filter", True, "strict", "closed", "refuse"),
        ("home-teenagers", "filter", True, "moderate", "open", "allow"),
        ("staff", "off", False, "off", "open", "allow"),
    ],
)
def test_template_policy(
    name: str, mode: str, safe_search: bool, youtube: str, failure: str, unreadable: str
) -> None:
    group = load_toml(TEMPLATES / f"{name}.toml")["group"]
    assert (group["mode"], group["safe_search"], group["youtube"]) == (mode, safe_search, youtube)
    assert (group["failure"], group["unreadable"]) == (failure, unreadable)
    # Every template states every bypass switch: no template leans on a default.
    assert set(BYPASS_SWITCHES) <= set(group)


def test_bypass_switches_per_template() -> None:
    def switches(name: str) -> dict[str, bool]:
        group = load_toml(TEMPLATES / f"{name}.toml")["group"]
        return {switch: group[switch] for switch in BYPASS_SWITCHES}

    assert not any(switches("staff").values())
    assert all(switches("primary-walled-garden").values())
    teen = switches("home-teenagers")
    assert teen["block_doh"] and teen["block_dot"] and teen["canaries"]
    assert not teen["refuse_quic"] and not teen["refuse_real_ech"]
    assert switches("home-young-children")["refuse_real_ech"]


def test_filter_templates_block_the_core_categories() -> None:
    core = {"adult", "gambling", "drogue", "redirector", "malware", "phishing"}
    for name in ("school", "home-young-children", "home-teenagers"):
        group = load_toml(TEMPLATES / f"{name}.toml")["group"]
        assert core <= set(group["block_categories"]), name


# --- curated tables against the code that enforces them ---------------------


def starter_groups() -> list[tuple[str, list[str]]]:
    """(site, names) for each ``# site:`` group of the starter white list."""
    groups: list[tuple[str, list[str]]] = []
    for line in (LISTS / "starter-whitelist.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# site:"):
            groups.append((line.partition(":")[2].strip(), []))
        elif line and not line.startswith("#"):
            assert groups, f"{line!r} comes before the first '# site:' group"
            groups[-1][1].append(line)
    return groups


def test_starter_sites_bring_their_content_domains() -> None:
    content: dict[str, list[str]] = load_toml(LISTS / "site-content.toml")["sites"]
    seen: set[str] = set()
    for site, names in starter_groups():
        assert names[0] == site, f"group {site} must start with the site itself"
        wanted = [site, *content.get(site, [])]
        assert names == [name for name in wanted if name not in seen or name == site], site
        seen.update(names)


def test_site_content_table_is_made_of_normalised_names() -> None:
    content: dict[str, list[str]] = load_toml(LISTS / "site-content.toml")["sites"]
    assert "khanacademy.org" in content
    assert {"kastatic.org", "kasandbox.org"} <= set(content["khanacademy.org"])
    for site, domains in content.items():
        for name in (site, *domains):
            assert name_from_bytes(name.encode()).text == name
            assert name_from_bytes(name.encode()).valid
        assert len(set(domains)) == len(domains) and site not in domains


def test_starter_list_covers_the_cis_and_reference_sites() -> None:
    sites = {site for site, _ in starter_groups()}
    assert {"wikipedia.org", "khanacademy.org", "uchi.ru", "yaklass.ru", "resh.edu.ru"} <= sites


def test_canaries_agree_with_policy() -> None:
    assert set(data_lines(LISTS / "canaries.txt")) == safesearch.CANARIES


def read_safesearch_table() -> dict[str, tuple[str, tuple[str, ...]]]:
    """lists/safesearch.txt: name -> (engine, endpoints)."""
    table: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in data_lines(LISTS / "safesearch.txt"):
        engine, name, *endpoints = line.split()
        assert name not in table, f"{name} twice"
        table[name] = (engine, tuple(endpoints))
    return table


def test_safesearch_table_agrees_with_policy() -> None:
    table = read_safesearch_table()
    assert set(table) == set(safesearch.ENGINE_NAMES)
    for name, (engine, endpoints) in table.items():
        assert engine == safesearch.ENGINE_NAMES[name].value, name
        expected: tuple[str, ...]
        if engine == safesearch.Engine.YOUTUBE:
            expected = (
                safesearch.YOUTUBE_TARGETS[YouTubeMode.STRICT],
                safesearch.YOUTUBE_TARGETS[YouTubeMode.MODERATE],
            )
        else:
            expected = (safesearch.ENGINE_TARGETS[safesearch.Engine(engine)],)
        assert endpoints == expected, name


def test_safesearch_table_covers_the_engines_of_the_issue() -> None:
    table = read_safesearch_table()
    assert table["www.google.ru"] == ("google", ("forcesafesearch.google.com",))
    assert table["www.bing.com"] == ("bing", ("strict.bing.com",))
    assert table["duckduckgo.com"] == ("duckduckgo", ("safe.duckduckgo.com",))
    assert table["m.youtube.com"][1] == ("restrict.youtube.com", "restrictmoderate.youtube.com")


# --- the derived lists -------------------------------------------------------


@pytest.fixture(scope="module")
def derive() -> ModuleType:
    return load_derive_script()


SAMPLES = (
    "lists/ut1/blacklists.tar.gz",
    "lists/blocklistproject/drugs.domains.txt",
    "lists/blocklistproject/phishing.domains.txt.gz",
    "lists/blocklistproject/scam.hosts.txt",
    "lists/blocklistproject/ransomware.hosts.txt",
    "lists/adult/porn_top1m.txt",
)
"""Every sample the derive script reads."""


def need_samples() -> None:
    for relative in SAMPLES:
        shared_data(relative)


@pytest.fixture(scope="module")
def generated(derive: ModuleType) -> dict[str, str]:
    """The derive script's output for the shared samples, computed once."""
    need_samples()
    files: dict[str, str] = derive.outputs(SHARED_DATA)
    return files


@pytest.mark.shared_data
def test_derived_lists_are_reproducible(
    tmp_path: Path, derive: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    need_samples()
    assert derive.main(["--data", str(SHARED_DATA), "--out", str(tmp_path)]) == 0
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = [p.relative_to(LISTS) for p in CATEGORIES.iterdir()] + [Path("manifest.toml")]
    assert produced == sorted(shipped)
    for relative in produced:
        if relative.name.endswith(".gz"):
            # Same text; the gzip bytes may differ with another zlib build.
            assert read_text(tmp_path / relative) == read_text(LISTS / relative), relative
        else:
            assert (tmp_path / relative).read_bytes() == (LISTS / relative).read_bytes(), relative
    # The run prints what each non-UT1 list took and dropped, and why.
    out = capsys.readouterr().out
    assert "categories/adult.porn_top1m.txt: 5893 names from 11868 lines" in out
    assert "names a listed parent covers: 5893" in out
    assert "phishing.blocklistproject.txt.gz: 118082 names from 190215 lines" in out


@pytest.mark.shared_data
def test_a_gzip_list_is_written_the_same_twice(
    derive: ModuleType, generated: dict[str, str]
) -> None:
    # No file name and no time stamp in the gzip header (RFC 1952 §2.3.1: MTIME 0).
    relative = "categories/phishing.blocklistproject.txt.gz"
    text = generated[relative]
    first = derive.file_bytes(relative, text)
    assert first == derive.file_bytes(relative, text)
    assert first[4:8] == bytes(4)  # MTIME
    assert first[3] & 0x08 == 0  # no FNAME
    assert derive.read_back(LISTS / relative) == text


@pytest.mark.shared_data
def test_default_categories_filled_from_other_sources(generated: dict[str, str]) -> None:
    # UT1's sample has no adult, malware or phishing file: the other sources fill them.
    assert "pornhub.com\n" in generated["categories/adult.porn_top1m.txt"]
    assert "Licence: GPL-3.0" in generated["categories/adult.porn_top1m.txt"]
    assert "lists/LICENSE-porn_top1m.txt" in generated["categories/adult.porn_top1m.txt"]
    scam = generated["categories/phishing.blocklistproject-scam.txt"]
    assert "0-google.com\n" in scam  # a hosts-file line, 0.0.0.0 0-google.com
    assert "names an earlier list of the category already covers" in scam
    assert "Licence: Unlicense" in generated["categories/malware.blocklistproject.txt"]
    manifest = tomllib.loads(generated["manifest.toml"])
    by_path = {entry["path"]: entry for entry in manifest["list"]}
    assert by_path["categories/phishing.blocklistproject.txt.gz"]["category"] == "phishing"
    assert by_path["categories/phishing.blocklistproject-scam.txt"]["category"] == "phishing"
    assert by_path["categories/malware.blocklistproject.txt"]["category"] == "malware"
    assert by_path["categories/adult.porn_top1m.txt"]["licence"] == "GPL-3.0"


@pytest.mark.shared_data
def test_excluded_names_are_gone_with_their_subdomains(
    derive: ModuleType, generated: dict[str, str]
) -> None:
    selection = derive.load_selection(LISTS / "selection.toml")
    adult = set(generated["categories/adult.porn_top1m.txt"].split("\n"))
    source = set(data_lines(SHARED_DATA / "lists/adult/porn_top1m.txt"))
    excluded = selection.excluded["adult.porn_top1m"]
    assert excluded and all(reason for reason in excluded.values())
    for name in excluded:
        assert name in source, name
        assert name not in adult and f"www.{name}" not in adult, name
    assert "uvm.edu" not in data_lines(LISTS / "categories/phishing.blocklistproject.txt.gz")
    # UT1's lists too: an exclusion is keyed by the category for them.
    for category, names in selection.excluded.items():
        if "." not in category:
            listed = set(generated[f"categories/{category}.txt"].split("\n"))
            assert not set(names) & listed, category
    assert "msedge.net" in selection.excluded["chat"]


def test_gpl_list_ships_with_its_licence_text_and_terms() -> None:
    text = (LISTS / "LICENSE-GPL-3.0.txt").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    terms = (LISTS / "LICENSE-porn_top1m.txt").read_text(encoding="utf-8")
    assert "GPL-2.0-or-later" in terms and "lists/LICENSE-GPL-3.0.txt" in terms
    assert "Unlicense" in (LISTS / "LICENSE-blocklistproject.txt").read_text(encoding="utf-8")


@pytest.mark.shared_data
def test_gpl_text_is_the_one_the_sample_carries() -> None:
    sample = shared_data("lists/adult/LICENSE-GPL-3.0.txt")
    assert (LISTS / "LICENSE-GPL-3.0.txt").read_bytes() == sample.read_bytes()


def test_derive_refuses_a_stale_exclusion(derive: ModuleType) -> None:
    with pytest.raises(derive.DeriveError, match=r"gone\.example"):
        derive.derive_list(
            "adult", derive.PORN_TOP1M, "f", b"a.example\n", excluded={"gone.example": "why"}
        )


def test_derive_reads_dirty_hosts_with_copgate_and_reports_why(derive: ModuleType) -> None:
    data = (
        b"# Title: a hosts list\r\n0.0.0.0 Bad.Example\r\n127.0.0.1 localhost\n"
        b"0.0.0.0 10.1.2.3\n203.0.113.7 redirect.example\n0.0.0.0 www.bad.example\n"
        b"0.0.0.0 bad.example\n0.0.0.0 keep.example\n"
    )
    derived = derive.derive_list(
        "phishing",
        derive.BLOCKLISTPROJECT_SCAM,
        "scam.hosts.txt",
        data,
        fmt=derive.SourceFormat.HOSTS,
        excluded={"keep.example": "a reviewed false positive"},
    )
    assert derived.names == ["bad.example"]
    assert dict(derived.dropped) == {
        "localhost entry": 1,
        "ip address": 1,
        "address is not a sink (a redirect, not a block)": 1,
        "duplicate": 1,
        "names a listed parent covers": 1,
        derive.EXCLUDED: 1,
    }
    assert derived.examples["ip address"] == "line 4: 10.1.2.3"
    assert derived.examples[derive.EXCLUDED] == "keep.example"


@pytest.mark.shared_data
def test_derive_check_finds_edited_and_stale_files(
    tmp_path: Path, derive: ModuleType, generated: dict[str, str]
) -> None:
    derive.write(generated, tmp_path)
    assert derive.differences(generated, tmp_path) == []
    (tmp_path / "categories" / "gambling.txt").write_text("# edited by hand\n", encoding="utf-8")
    (tmp_path / "categories" / "shopping.txt").write_text("shop.example\n", encoding="utf-8")
    assert derive.differences(generated, tmp_path) == [
        "categories/gambling.txt",
        "categories/shopping.txt (stale)",
    ]
    # Writing again restores the file and removes the stale one.
    derive.write(generated, tmp_path)
    assert derive.differences(generated, tmp_path) == []


def test_derive_refuses_a_sample_it_was_not_written_for(tmp_path: Path, derive: ModuleType) -> None:
    other = tmp_path / "blacklists.tar.gz"
    other.write_bytes(b"not the pinned sample")
    with pytest.raises(derive.DeriveError, match="sha256"):
        derive.check_sample(other, derive.UT1)


def test_selection_gives_a_reason_for_every_category(derive: ModuleType) -> None:
    selection = derive.load_selection(LISTS / "selection.toml")
    assert not set(selection.shipped) & set(selection.left_out)
    assert all(selection.shipped.values()) and all(selection.left_out.values())
    own = {entry.name for entry in selection.own}
    assert own == {"infrastructure", "starter_whitelist"}
    assert set(selection.shipped) | own == set(CATALOGUE)
    assert set(selection.russian) == set(selection.shipped)


@pytest.mark.shared_data
def test_derive_refuses_an_undecided_category(tmp_path: Path, derive: ModuleType) -> None:
    need_samples()
    text = (LISTS / "selection.toml").read_text(encoding="utf-8")
    edited = tmp_path / "selection.toml"
    edited.write_text(text.replace('jobsearch = "', 'no_such_key = "'), encoding="utf-8")
    with pytest.raises(derive.DeriveError, match="jobsearch"):
        derive.outputs(SHARED_DATA, edited)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"Example.COM", ("example.com", None)),
        (b".afshin.ir", ("afshin.ir", None)),
        (b"*.ads.example.net\r", ("ads.example.net", None)),
        (b"example.org.", ("example.org", None)),
        (
            b"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84",
            ("xn--e1afmkfd.xn--p1ai", None),
        ),
        (b"193.49.53.175", (None, "IP addresses")),
        (b"2001:db8::1", (None, "IP addresses")),
        (b"host.123", (None, "all-numeric top-level labels")),
        (b"localhost", (None, "single labels")),
        (b"bad\x07name.com", (None, "invalid names (control bytes)")),
        (b"# a comment", (None, None)),
        (b"   ", (None, None)),
    ],
)
def test_derive_normalises_like_copgate(
    derive: ModuleType, line: bytes, expected: tuple[str | None, str | None]
) -> None:
    assert derive.normalise(line) == expected


def test_derive_keeps_only_what_no_parent_covers(derive: ModuleType) -> None:
    data = b"a.example.com\nexample.com\nexample.com\nb.other.org\n10.0.0.1\n"
    derived = derive.derive_list("x", derive.UT1, "x/domains", data)
    assert derived.names == ["b.other.org", "example.com"]
    assert derived.lines == 5
    assert dict(derived.dropped) == {
        "duplicates": 1,
        "IP addresses": 1,
        "names a listed parent covers": 1,
    }
    second = derive.derive_list(
        "x", derive.BLOCKLISTPROJECT, "f", b"www.example.com\nnew.example.net\n", {"example.com"}
    )
    assert second.names == ["new.example.net"]
    assert second.file_name == "x.blocklistproject.txt"


# --- the budget --------------------------------------------------------------


def test_default_lists_fit_a_small_router() -> None:
    table = EntryTable()
    names = text = 0
    for entry in MANIFEST["list"]:
        path = LISTS / entry["path"]
        found, _ = read_source_file(path, SourceFormat.DOMAINS)
        table.add_names(found, frozenset({entry["category"]}), white=entry["white"])
        names += len(found)
        text += path.stat().st_size
    data, report = build_cache(table, CATALOGUE, build_time=0)
    assert names <= MAX_NAMES, names
    assert text <= MAX_TEXT_BYTES, text
    assert len(data) == report.size <= MAX_CACHE_BYTES, report
    assert report.categories == len(CATALOGUE)
