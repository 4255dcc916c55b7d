"""dist build: the artefact, deltas from earlier releases, an unsigned manifest."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from pathlib import Path

import pytest

from copgate.dist.build import build_release, next_release
from copgate.dist.errors import DistError
from copgate.dist.sign import publish, sign_manifest
from copgate.dist.tree import Tree, signature_path
from copgate.release.artefact import apply_delta, check_artefact
from copgate.release.manifest import CACHE_ARTEFACT, read_manifest
from tests.dist.helpers import compiled, names, new_tree
from tests.release.helpers import CREATED, RELEASE_KEY


def release(tree: Tree, listed: list[str], deltas: int = 5) -> int:
    """Build, sign and publish the next release of ``tree``; its number."""
    number = next_release(tree)
    build_release(tree, number, compiled(listed, number), CREATED, timedelta(days=7), deltas)
    sign_manifest(tree.candidate(number), RELEASE_KEY, tree.published(), tree.keyset())
    publish(tree)
    return number


def test_the_first_build_is_release_1_with_no_delta(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    assert next_release(tree) == 1
    built = build_release(tree, 1, compiled(names(50), 1), CREATED)
    assert built.manifest.release == 1
    assert built.manifest.deltas == ()
    assert built.manifest.expires == CREATED + timedelta(days=7)
    check_artefact(tmp_path / "releases/1/lists.cache", built.manifest.artefacts[CACHE_ARTEFACT])
    written = read_manifest((tmp_path / "releases/1/release.json").read_bytes(), "release.json")
    assert written == built.manifest


def test_a_build_never_touches_the_published_release(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    release(tree, names(50))
    before = tree.manifest_path.read_bytes()
    build_release(tree, 2, compiled(names(60), 2), CREATED)
    assert tree.manifest_path.read_bytes() == before
    assert next_release(tree) == 2  # still: 2 is built, not published


def test_deltas_come_from_the_last_releases_and_rebuild_the_cache(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    for count in (400, 410, 420):
        release(tree, names(count), deltas=2)
    new = compiled(names(430), 4)
    built = build_release(tree, 4, new, CREATED, deltas=2)
    assert [d.source for d in built.manifest.deltas] == [2, 3]
    for delta in built.manifest.deltas:
        check_artefact(tmp_path / delta.path, delta)
        out = io.BytesIO()
        with (tmp_path / delta.path).open("rb") as stream:
            apply_delta(tmp_path / f"releases/{delta.source}/lists.cache", stream, out, len(new))
        assert out.getvalue() == new


def test_a_delta_no_smaller_than_the_cache_is_not_listed(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    unrelated = random.Random(1)
    build_release(tree, 1, unrelated.randbytes(2000), CREATED)
    built = build_release(tree, 2, unrelated.randbytes(2000), CREATED)
    assert built.manifest.deltas == ()
    assert not (tmp_path / "deltas/1-2.delta").exists()


def test_rebuilding_a_release_drops_the_signature_of_the_older_build(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    build_release(tree, 1, compiled(names(5), 1), CREATED)
    sign_manifest(tree.candidate(1), RELEASE_KEY, None, tree.keyset())
    assert signature_path(tree.candidate(1)).exists()
    build_release(tree, 1, compiled(names(6), 1), CREATED)
    assert not signature_path(tree.candidate(1)).exists()


def test_a_tree_without_a_key_set_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(DistError, match="dist sign --keyset"):
        build_release(Tree(tmp_path), 1, compiled(names(5), 1), CREATED)


def test_a_release_valid_for_no_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DistError, match="valid for"):
        build_release(new_tree(tmp_path), 1, b"x", CREATED, timedelta(0))


def test_publishing_keeps_the_last_releases_and_drops_older_ones(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    for count in range(100, 107):
        number = next_release(tree)
        build_release(tree, number, compiled(names(count), number), CREATED, deltas=2)
        sign_manifest(tree.candidate(number), RELEASE_KEY, tree.published(), tree.keyset())
        publish(tree, keep=3)
    assert tree.releases() == [5, 6, 7]
    # Deltas into kept releases stay: a gateway still on release 3 may use 3-5.
    assert sorted(p.name for p in (tmp_path / "deltas").iterdir()) == [
        "3-5.delta",
        "4-5.delta",
        "4-6.delta",
        "5-6.delta",
        "5-7.delta",
        "6-7.delta",
    ]
    published = tree.published()
    assert published is not None
    for delta in published.deltas:
        check_artefact(tmp_path / delta.path, delta)
