"""A gateway's updater pulls what the service published, and its lists then block the site.

The service's tree is served over HTTP on 127.0.0.1 by ``copgate dist serve``'s
server; the gateway side is ``copgate.update`` as a router runs it (root key
trusted, signature, key set, hashes, install). The extra artefact
``provenance.json`` rides in the signed manifest without troubling it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from copgate.dist.serve import TreeServer
from copgate.distributor.curation import decisions, publishing
from copgate.lists.cache import ListCache
from copgate.release.signify import public_key_line
from copgate.update.fetch import HttpFetcher, Limits
from copgate.update.model import UpdateSettings
from copgate.update.updater import Result, Updater
from tests.distributor.conftest import Backend
from tests.distributor.helpers import NOW, SigningSetup, make_categories, make_tree


@pytest.fixture
def served(tmp_path: Path, db: Backend) -> Iterator[tuple[SigningSetup, str]]:
    signing = make_tree(tmp_path)
    server = TreeServer(("127.0.0.1", 0), signing.tree.root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with override_settings(
            COPGATE_TREE_DIR=signing.tree.root, COPGATE_SIGNING_KEY=signing.secret_path
        ):
            yield signing, f"http://{host!s}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_gateway_installs_the_release_and_blocks_the_approved_name(
    served: tuple[SigningSetup, str], tmp_path: Path, make_user: Callable[..., Any]
) -> None:
    signing, url = served
    categories = make_categories()
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    proposal = decisions.propose(
        expert, action="add", name="games.example", category=categories["games"]
    )
    decisions.approve(admin, proposal)
    publishing.build_and_publish(admin, NOW)

    gateway = tmp_path / "gateway"
    (gateway / "builtin").mkdir(parents=True)
    settings = UpdateSettings(
        url=url,
        root_keys=(public_key_line(signing.root_public),),
        ram_dir=str(gateway / "ram"),
        flash_dir=str(gateway / "flash"),
        builtin_dir=str(gateway / "builtin"),
    )
    outcome = Updater(
        settings, HttpFetcher(time.monotonic, Limits(timeout=2.0, deadline=10.0)), time.time
    ).check()
    assert outcome.result == Result.INSTALLED, outcome.line
    with ListCache.open(settings.lists_path) as cache:
        match = cache.lookup("www.games.example")
    assert (match.listed, match.white, match.categories) == (True, False, frozenset({"games"}))
