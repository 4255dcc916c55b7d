"""Upstream sources: fetched by URL on their schedule, read with their category mapping."""

from __future__ import annotations

import tarfile
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from copgate.dist.serve import TreeServer
from copgate.distributor.curation import fetching
from copgate.distributor.curation.assemble import assemble
from copgate.distributor.curation.models import AuditLog, Source
from copgate.distributor.curation.publishing import source_file
from tests.distributor.conftest import Backend
from tests.distributor.helpers import NOW

UT1_USAGE = "NAME:\tadult\nDEFAULT_TYPE: black\nNAME:\tchild\nDEFAULT_TYPE: white\n"


def _ut1(directory: Path) -> Path:
    """A small UT1 tarball: adult, gambling and child (white), with porn -> adult."""
    tree = directory / "blacklists"
    for category, names in (
        ("adult", "x.example\nxx.example\n"),
        ("gambling", "bet.example\n"),
        ("child", "kids.example\n"),
    ):
        (tree / category).mkdir(parents=True)
        (tree / category / "domains").write_text(names)
    (tree / "global_usage").write_text(UT1_USAGE)
    (tree / "porn").symlink_to("adult")
    archive = directory / "blacklists.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="blacklists")
    return archive


@pytest.fixture
def upstream(tmp_path: Path, db: Backend) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "upstream"
    served.mkdir()
    _ut1(served)
    (served / "plain.txt").write_text("one.example\ntwo.example\n")
    server = TreeServer(("127.0.0.1", 0), served)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    data = tmp_path / "data"
    try:
        with override_settings(COPGATE_DATA_DIR=data):
            yield f"http://{host!s}:{port}", data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_due_source_is_fetched_and_read_with_its_mapping(
    upstream: tuple[str, Path], make_user: Callable[..., Any]
) -> None:
    url, data = upstream
    admin = make_user("ada", "administrator")
    ut1 = Source.objects.create(
        name="UT1",
        url=f"{url}/blacklists.tar.gz",
        format="ut1",
        category_mapping={"porn": "adult", "child": "child"},
    )
    plain = Source.objects.create(
        name="plain", url=f"{url}/plain.txt", category_mapping={"*": "gambling"}
    )
    results = fetching.fetch_due(admin, NOW)
    assert [r.source.name for r in results if isinstance(r, fetching.Fetched)] == [
        "UT1",
        "plain",
    ]
    ut1.refresh_from_db()
    plain.refresh_from_db()
    assert ut1.last_fetched == NOW and ut1.fetched_path == f"sources/{ut1.pk}/blacklists.tar.gz"
    assert AuditLog.objects.filter(action="source.fetch").count() == 2
    paths = [(s, source_file(s)) for s in (ut1, plain)]
    assert all(path is not None and path.is_relative_to(data) for _s, path in paths)
    assembled = assemble([(s, p) for s, p in paths if p is not None], [], [], [])
    assert assembled.table.black == {
        "x.example": frozenset({"adult"}),
        "xx.example": frozenset({"adult"}),
        "one.example": frozenset({"gambling"}),
        "two.example": frozenset({"gambling"}),
    }  # UT1's gambling is not mapped: left out
    assert assembled.table.white == {"kids.example": frozenset({"child"})}
    assert [s["categories"] for s in assembled.sources] == [["adult", "child"], ["gambling"]]
    assert all(len(s["sha256"]) == 64 for s in assembled.sources)
    # Nothing is due again until the schedule says so.
    assert fetching.fetch_due(admin, NOW + timedelta(hours=23)) == []
    assert len(fetching.fetch_due(admin, NOW + timedelta(hours=24))) == 2


def test_a_failed_fetch_is_reported_and_keeps_the_last_copy(
    upstream: tuple[str, Path], make_user: Callable[..., Any]
) -> None:
    url, _data = upstream
    source = Source.objects.create(
        name="gone", url=f"{url}/missing.txt", category_mapping={"*": "adult"}
    )
    results = fetching.fetch_due(make_user("ada", "administrator"), NOW)
    assert len(results) == 1 and isinstance(results[0], fetching.FetchError)
    assert "404" in str(results[0])
    source.refresh_from_db()
    assert (source.last_fetched, source.fetched_path) == (None, "")


def test_a_source_without_a_schedule_is_fetched_once(db: Backend) -> None:
    source = Source(name="s", url="http://192.0.2.1/l.txt", schedule_hours=0)
    assert fetching.is_due(source, NOW)
    source.last_fetched = NOW - timedelta(days=365)
    assert not fetching.is_due(source, NOW)
