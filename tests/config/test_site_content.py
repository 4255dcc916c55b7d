"""A white-listed site brings its content domains (lists/site-content.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.config.load import load_config
from copgate.config.site_content import expand_allow, read_site_content
from copgate.errors import ConfigError
from copgate.lists.model import NOT_LISTED, ListMatch
from copgate.policy.decide import decide
from copgate.policy.decision import Verdict
from tests.policy.helpers import MONDAY_NOON, dns

TABLE = {"khanacademy.org": ("kastatic.org", "kasandbox.org"), "wikipedia.org": ("wikimedia.org",)}


def test_a_site_or_a_name_below_it_brings_its_content_domains() -> None:
    assert expand_allow(["khanacademy.org"], TABLE) == (
        "khanacademy.org",
        "kastatic.org",
        "kasandbox.org",
    )
    assert expand_allow(["fr.wikipedia.org", "other.example"], TABLE) == (
        "fr.wikipedia.org",
        "other.example",
        "wikimedia.org",
    )
    assert expand_allow([], TABLE) == ()


def test_the_shipped_table_reads() -> None:
    table = read_site_content(Path(__file__).resolve().parents[2] / "lists" / "site-content.toml")
    assert table["khanacademy.org"] == ("kastatic.org", "kasandbox.org")


def test_a_bad_table_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "site-content.toml"
    bad.write_text('[sites]\n"a.example" = "b.example"\n')
    with pytest.raises(ConfigError, match="expected a list of names"):
        read_site_content(bad)
    assert read_site_content(tmp_path / "absent.toml") == {}


def test_a_walled_garden_allowing_khan_academy_opens_its_static_content(tmp_path: Path) -> None:
    config = tmp_path / "copgate.toml"
    config.write_text(
        '[general]\nlists = []\nlan_interfaces = ["br-lan"]\ndefault_group = "kids"\n'
        '[group.kids]\nmode = "whitelist"\nallow = ["khanacademy.org"]\n'
    )
    group = load_config(config).groups[0]
    assert "kastatic.org" in group.allow

    class Nothing:
        def lookup(self, name: str) -> ListMatch:
            return NOT_LISTED

    decision = decide(dns("cdn.kastatic.org"), group, Nothing(), MONDAY_NOON, True, frozenset())
    assert decision.verdict is Verdict.ALLOW
