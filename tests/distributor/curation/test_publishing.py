"""Publishing: sources + approved additions - approved removals, signed, with provenance."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from copgate.dist.errors import DistError
from copgate.dist.sign import publish, sign_manifest
from copgate.dist.tree import Tree, read_bytes
from copgate.distributor.curation import decisions, publishing
from copgate.distributor.curation.models import (
    AuditLog,
    Proposal,
    PublishRequest,
    Release,
    Source,
)
from copgate.lists.cache import ListCache
from copgate.release.artefact import check_artefact
from copgate.release.signify import read_secret_key
from copgate.release.verify import verify_manifest
from tests.distributor.conftest import Backend
from tests.distributor.helpers import NOW, SigningSetup, make_categories, make_tree

UPSTREAM = "# an upstream list\ncasino-one.example\nwrongly-listed.example\nslots.example\n"


@pytest.fixture
def setup(tmp_path: Path, db: Backend) -> Iterator[SigningSetup]:
    signing = make_tree(tmp_path)
    data = tmp_path / "data"
    (data / "sources").mkdir(parents=True)
    (data / "sources" / "upstream.txt").write_text(UPSTREAM)
    with override_settings(
        COPGATE_TREE_DIR=signing.tree.root,
        COPGATE_SIGNING_KEY=signing.secret_path,
        COPGATE_DATA_DIR=data,
    ):
        yield signing


def _curate(make_user: Callable[..., Any]) -> tuple[Any, Proposal, Proposal]:
    categories = make_categories()
    Source.objects.create(
        name="upstream",
        format="plain",
        category_mapping={"*": "gambling"},
        fetched_path="sources/upstream.txt",
        last_fetched=NOW,
    )
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    add = decisions.propose(
        expert, action="add", name="new-casino.example", category=categories["gambling"]
    )
    remove = decisions.propose(expert, action="remove", name="wrongly-listed.example")
    garden = decisions.propose(
        expert, action="add", name="maths.example", kind="allow", list_name="walled_garden"
    )
    for proposal in (add, remove, garden):
        decisions.approve(admin, proposal)
    return admin, add, remove


def _gateway_view(tree: Tree, signing: SigningSetup) -> tuple[int, Path]:
    """What a gateway checks before it installs: signature, key set, artefact hashes."""
    data = read_bytes(tree.manifest_path)
    sig = read_bytes(tree.root / "release.json.sig")
    manifest = verify_manifest(data, sig, tree.keyset(), None, NOW, None)
    for artefact in manifest.artefacts.values():
        check_artefact(tree.root / artefact.path, artefact)
    return manifest.release, tree.root / tree.cache_relpath(manifest.release)


def test_a_release_is_sources_plus_additions_minus_removals(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    admin, add, _remove = _curate(make_user)
    built = publishing.build_and_publish(admin, NOW)
    assert (built.release.number, built.signed, built.release.published) == (1, True, True)
    release, cache_path = _gateway_view(setup.tree, setup)
    assert release == 1
    with ListCache.open(cache_path) as cache:
        assert cache.lookup("www.new-casino.example").categories == {"gambling"}
        assert cache.lookup("slots.example").listed
        assert not cache.lookup("wrongly-listed.example").listed
        garden = cache.lookup("maths.example")
        assert garden.white and garden.categories == {"starter_whitelist"}
    add.refresh_from_db()
    assert add.release == built.release
    assert AuditLog.objects.filter(action="release.publish", object_id=str(built.release.pk))


def test_provenance_names_the_proposal_expert_and_approver(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    admin, add, remove = _curate(make_user)
    publishing.build_and_publish(admin, NOW)
    manifest = setup.tree.published()
    assert manifest is not None
    artefact = manifest.artefacts["provenance.json"]
    document = json.loads((setup.tree.root / artefact.path).read_text())
    assert document["release"] == 1
    entry = next(e for e in document["entries"] if e["name"] == "new-casino.example")
    assert entry | {"approved": None} == {
        "name": "new-casino.example",
        "category": "gambling",
        "list": "default",
        "kind": "block",
        "proposal": add.pk,
        "action": "add",
        "expert": "erin",
        "approver": "ada",
        "approved": None,
    }
    assert [r["proposal"] for r in document["removed"]] == [remove.pk]
    assert document["sources"][0]["name"] == "upstream"
    assert document["sources"][0]["categories"] == ["gambling"]


def test_without_a_key_the_release_waits_for_a_separate_signer(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    admin, _add, _remove = _curate(make_user)
    with override_settings(COPGATE_SIGNING_KEY=None):
        built = publishing.build_and_publish(admin, NOW)
    assert (built.signed, built.release.published) == (False, False)
    assert setup.tree.published() is None
    assert publishing.sync_published() is None
    # The signer's host: copgate dist sign --publish, with the same code.
    secret = read_secret_key(setup.secret_path.read_text(), "release.sec")
    sign_manifest(setup.tree.candidate(1), secret, None, setup.tree.keyset())
    publish(setup.tree, 1)
    assert publishing.sync_published() == 1
    assert Release.objects.get(number=1).published


def test_the_next_release_carries_a_delta_and_a_later_decision(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    admin, _add, _remove = _curate(make_user)
    publishing.build_and_publish(admin, NOW)
    expert = make_user("eve", "expert")
    later = decisions.propose(expert, action="remove", name="slots.example")
    decisions.approve(admin, later)
    built = publishing.build_and_publish(admin, NOW + timedelta(hours=1))
    assert built.release.number == 2
    manifest = setup.tree.published()
    assert manifest is not None and manifest.delta_from(1) is not None
    _release, cache_path = _gateway_view(setup.tree, setup)
    with ListCache.open(cache_path) as cache:
        assert not cache.lookup("slots.example").listed
        assert cache.lookup("casino-one.example").listed


def test_only_an_administrator_publishes(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    with pytest.raises(PermissionDenied):
        publishing.build_and_publish(make_user("erin", "expert"), NOW)
    assert not (setup.tree.root / "releases").exists()


def test_a_source_without_a_file_stops_the_build(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    Source.objects.create(name="never-fetched", url="http://192.0.2.1/list.txt")
    with pytest.raises(DistError, match="never-fetched"):
        publishing.build_and_publish(make_user("ada", "administrator"), NOW)
    assert not Release.objects.exists()


def test_scheduled_publication_runs_when_due(
    setup: SigningSetup, make_user: Callable[..., Any]
) -> None:
    admin, _add, _remove = _curate(make_user)
    request = PublishRequest.objects.create(due=NOW + timedelta(hours=2), requested_by=admin)
    assert publishing.publish_due(NOW) is None
    built = publishing.publish_due(NOW + timedelta(hours=2))
    assert built is not None and built.release.number == 1
    request.refresh_from_db()
    assert (request.done, request.release) == (NOW + timedelta(hours=2), built.release)
    assert publishing.publish_due(NOW + timedelta(hours=3)) is None
