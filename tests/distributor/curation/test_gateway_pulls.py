"""A gateway's updater pulls what the service published, and its lists then block the site.

The service's tree is served over HTTP on 127.0.0.1 by ``copgate dist serve``'s
server; the gateway side is ``copgate.update`` as a router runs it (root key
trusted, signature, key set, hashes, install). The extra artefact
``provenance.json`` rides in the signed manifest, is installed beside the
cache, and ``copgate check`` on the gateway names the proposal behind a block.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from copgate.cli import main
from copgate.dist.serve import TreeServer
from copgate.distributor.curation import decisions, publishing
from copgate.distributor.curation.models import Source
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


def _gateway(signing: SigningSetup, url: str, base: Path) -> UpdateSettings:
    (base / "builtin").mkdir(parents=True)
    return UpdateSettings(
        url=url,
        root_keys=(public_key_line(signing.root_public),),
        ram_dir=str(base / "ram"),
        flash_dir=str(base / "flash"),
        builtin_dir=str(base / "builtin"),
    )


def _pull(settings: UpdateSettings) -> None:
    outcome = Updater(
        settings, HttpFetcher(time.monotonic, Limits(timeout=2.0, deadline=10.0)), time.time
    ).check()
    assert outcome.result == Result.INSTALLED, outcome.line


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

    settings = _gateway(signing, url, tmp_path / "gateway")
    _pull(settings)
    with ListCache.open(settings.lists_path) as cache:
        match = cache.lookup("www.games.example")
    assert (match.listed, match.white, match.categories) == (True, False, frozenset({"games"}))


def test_copgate_check_on_the_gateway_names_the_proposal_source_and_removal(
    served: tuple[SigningSetup, str],
    tmp_path: Path,
    make_user: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    signing, url = served
    data = tmp_path / "data"
    (data / "sources").mkdir(parents=True)
    (data / "sources" / "upstream.txt").write_text("casino-one.example\nwrongly.example\n")
    categories = make_categories()
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    with override_settings(COPGATE_DATA_DIR=data):
        Source.objects.create(
            name="upstream",
            url="https://lists.example/upstream.txt",
            format="plain",
            category_mapping={"*": "gambling"},
            fetched_path="sources/upstream.txt",
            last_fetched=NOW,
        )
        add = decisions.propose(
            expert, action="add", name="games.example", category=categories["games"]
        )
        remove = decisions.propose(expert, action="remove", name="wrongly.example")
        for proposal in (add, remove):
            decisions.approve(admin, proposal)
        publishing.build_and_publish(admin, NOW)

    settings = _gateway(signing, url, tmp_path / "gateway")
    _pull(settings)
    config = tmp_path / "copgate.toml"
    config.write_text(
        f"""[update]
url = "{url}"
root_keys = ["{public_key_line(signing.root_public)}"]
ram_dir = "{settings.ram_dir}"
flash_dir = "{settings.flash_dir}"
builtin_dir = "{settings.builtin_dir}"

[general]
timezone = "UTC0"

[group.everyone]
block_categories = ["games", "gambling"]
""",
        encoding="utf-8",
    )

    def check(name: str) -> list[str]:
        assert main(["check", name, "--config", str(config)]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if "why:" in line]

    [games] = check("www.games.example")
    assert games.startswith(
        f"  why: release 1: listed by proposal #{add.pk} (add, by erin, approved by ada on "
    )
    assert check("casino-one.example") == [
        "  why: release 1: from upstream source upstream "
        "(plain, https://lists.example/upstream.txt, sha256 "
        f"{_sha256(data / 'sources' / 'upstream.txt')[:16]}, fetched {NOW.isoformat()})"
    ]
    [removed] = check("wrongly.example")
    assert removed.startswith(
        f"  why: release 1: wrongly.example removed from the upstream lists by proposal "
        f"#{remove.pk} (remove, by erin, approved by ada on "
    )
    assert main(["check", "games.example", "--config", str(config), "--json"]) == 0
    [origin] = json.loads(capsys.readouterr().out)["provenance"]
    assert origin["file"] == f"{settings.ram_dir}/current/provenance.json"
    assert [(e["proposal"], e["expert"], e["approver"]) for e in origin["entries"]] == [
        (add.pk, "erin", "ada")
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
