"""The config's tables agree with what ships beside them."""

from __future__ import annotations

from pathlib import Path

from copgate.config.schema import CATEGORY_ALIASES
from copgate.lists.manifest import read_manifest

MANIFEST = Path(__file__).resolve().parents[2] / "lists" / "manifest.toml"


def test_category_aliases_are_the_shipped_manifests() -> None:
    # The loader keeps its own copy (no manifest on a router); a changed
    # manifest must change it too, or configs and `copgate compile` disagree.
    assert dict(CATEGORY_ALIASES) == dict(read_manifest(MANIFEST).aliases)


def test_an_alias_leads_straight_to_a_category() -> None:
    # One lookup resolves: no alias names another alias.
    assert not set(CATEGORY_ALIASES.values()) & set(CATEGORY_ALIASES)
