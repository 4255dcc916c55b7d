"""Publishing through the curation service beside ``copgate dist build`` on the same sources.

The UT1 tarball of ../shared/data/lists (every category it holds, aliases
resolved) is the one upstream source. In one run, each in its own fresh
release tree with the same key set:

- baseline: ``copgate dist build`` (its own command handler, argv parsed as
  the command line would be), which reads the tarball and compiles;
- the service: ``publishing.build_and_publish`` over a SQLite database that
  holds the same tarball as a ``Source`` (mapping: every category), plus
  1,000 approved additions and 100 approved removals, each with its
  proposal, expert and approver, written into ``provenance.json``; it then
  signs and publishes. Its time includes the database reads, provenance,
  signing and publishing; the baseline's stops at the unsigned build.

Each side runs three times (a fresh tree each time) and keeps the best.
Printed: names, cache bytes, seconds, the ratio service/baseline, and the
provenance artefact's size. The figures go into BENCHMARKS.md, "Curation
service".

Run: .venv/bin/python benchmarks/bench_curation.py
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
UT1 = ROOT.parent / "shared" / "data" / "lists" / "ut1" / "blacklists.tar.gz"
WORK = Path(tempfile.mkdtemp(prefix="copgate-bench-curation-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="copgate.distributor.settings",
    COPGATE_DATA_DIR=str(WORK / "data"),
    COPGATE_SECRET_KEY=os.urandom(32).hex(),
)
os.environ.pop("COPGATE_DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from copgate.cli import build_parser  # noqa: E402
from copgate.distributor.curation import decisions, publishing  # noqa: E402
from copgate.distributor.curation.models import Category, Source  # noqa: E402
from tests.distributor.helpers import SigningSetup, make_tree  # noqa: E402

ADDITIONS = 1000
REMOVALS = 100
RUNS = 3
NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def baseline(signing: SigningSetup) -> float:
    """``copgate dist build --tree DIR UT1`` as the command line runs it."""
    argv = ["dist", "build", "--tree", str(signing.tree.root), str(UT1)]
    args = build_parser(argv).parse_args(argv)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        args.func(args)
    return time.perf_counter() - started


def curated_database() -> User:
    """Users, the source, and the approved proposals; the administrator who publishes."""
    (WORK / "data").mkdir()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    expert = User.objects.create_user("erin")
    admin = User.objects.create_user("ada")
    Group.objects.get(name="expert").user_set.add(expert)
    Group.objects.get(name="administrator").user_set.add(admin)
    games = Category.objects.create(slug="curated_games", names={"en": "Games"})
    # An absolute fetched path: the shared tarball is read in place, not copied.
    Source.objects.create(name="UT1", format="ut1", fetched_path=str(UT1), last_fetched=NOW)
    for number in range(ADDITIONS):
        proposal = decisions.propose(
            expert, action="add", name=f"new-{number}.example", category=games
        )
        decisions.approve(admin, proposal)
    for name in _some_ut1_names(REMOVALS):
        decisions.approve(admin, decisions.propose(expert, action="remove", name=name))
    return admin


def _some_ut1_names(count: int) -> list[str]:
    from copgate.lists.ut1 import read_ut1

    names = read_ut1(UT1, ["gambling"]).domains["gambling"]
    return names[:count]


def service(signing: SigningSetup, admin: User) -> tuple[float, Any]:
    with override_settings(
        COPGATE_TREE_DIR=signing.tree.root,
        COPGATE_SIGNING_KEY=signing.secret_path,
    ):
        started = time.perf_counter()
        built = publishing.build_and_publish(admin, NOW)
        return time.perf_counter() - started, built


def main() -> int:
    if not UT1.is_file():
        print(f"{UT1}: missing (../shared/data)", file=sys.stderr)
        return 1
    try:
        admin = curated_database()
        base_times, service_times = [], []
        built: Any = None
        for run in range(RUNS):
            base_times.append(baseline(make_tree(WORK / f"base-{run}")))
            elapsed, built = service(make_tree(WORK / f"service-{run}"), admin)
            service_times.append(elapsed)
        published = (WORK / f"service-{RUNS - 1}" / "tree").resolve()
        provenance = published / "releases" / "1" / "provenance.json"
        cache = published / "releases" / "1" / "lists.cache"
        best_base, best_service = min(base_times), min(service_times)
        print(
            f"UT1 tarball: {UT1.stat().st_size} bytes; {ADDITIONS} additions, {REMOVALS} removals"
        )
        print(f"copgate dist build (baseline, unsigned): {best_base:.2f} s")
        print(
            f"service build + sign + publish: {best_service:.2f} s "
            f"({built.names} names, cache {cache.stat().st_size} bytes)"
        )
        print(f"ratio service/baseline: {best_service / best_base:.2f}")
        print(f"provenance.json: {provenance.stat().st_size} bytes")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
