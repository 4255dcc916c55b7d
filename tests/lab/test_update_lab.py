"""Signed list updates through the lab's real network while the gateway filters.

nginx in the internet namespace serves a release tree that ``copgate dist``
built and signed (keygen, key set, build, sign --publish: the publishing
steps of docs/releases.md). copgate in the gateway starts on its built-in
lists (a signed copy of release 1), polls every few seconds, and takes
release 2 (by delta) when it appears. Meanwhile the teen client asks DNS
questions without pause: the name release 2 adds is blocked within one
poll, every question is answered (none times out), and the queues count no
drop and no failure.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import DnsResult
from copgate.lab.gateway import compile_lab_lists, write_config
from copgate.lab.processes import LabProcess
from copgate.lab.servers import listening, static_tree_config
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, serving

pytestmark = pytest.mark.lab

PORT = 8080
SERVER = plan.host("allowed.example")
"""The tree is served from this internet-side address (nginx listens on all)."""
INTERVAL = 10
ADDED = "games.example"
"""A lab host the teen may reach until release 2 lists it as adult."""
KEPT = "allowed.example"
SOA_OWNER = "copgate.invalid."
TREE_FILES = ("lists.cache", "release.json", "release.json.sig")


def dist(lab: Lab, *args: str | Path, cwd: Path) -> str:
    argv = [sys.executable, "-m", "copgate", "dist", *map(str, args)]
    result = subprocess.run(
        argv, cwd=cwd, env=lab.python_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def publish(lab: Lab, tree: Path, keys: Path, names: list[str]) -> int:
    """Build and sign a release of ``names`` (adult) into ``tree``; its number."""
    source = keys / "adult.txt"
    source.write_text("".join(f"{name}\n" for name in names))
    dist(lab, "build", "--tree", tree, "--category", "adult", source, cwd=keys)
    release = max(int(p.name) for p in (tree / "releases").iterdir() if p.name.isdigit())
    manifest = tree / "releases" / str(release) / "release.json"
    dist(lab, "sign", "--key", keys / "release.sec", "--publish", manifest, cwd=keys)
    return release


@pytest.fixture(scope="module")
def tree_server(lab: Lab) -> Iterator[tuple[Path, Path, LabProcess]]:
    """A signed tree with release 1, served by nginx in the internet namespace."""
    tree, keys = lab.workdir / "tree", lab.workdir / "keys"
    tree.mkdir()
    keys.mkdir()
    dist(lab, "keygen", "--root", "-o", keys / "root", cwd=keys)
    dist(lab, "keygen", "-o", keys / "release", cwd=keys)
    dist(lab, "sign", "--keyset", "--key", keys / "root.sec", "--add", keys / "release.pub",
         tree / "keyset.json", cwd=keys)  # fmt: skip
    assert publish(lab, tree, keys, ["old.example"]) == 1
    (lab.workdir / "nginx-tree").mkdir()
    config = lab.workdir / "nginx-tree.conf"
    config.write_text(static_tree_config(tree, lab.workdir, PORT, "tree"))
    argv = ["nginx", "-p", f"{lab.workdir}/nginx-tree/", "-e", "stderr", "-c", str(config)]
    nginx = lab.spawn(
        lab.internet, argv, name="nginx-tree", ready=lambda: listening(lab.internet, "tcp", PORT)
    )
    yield tree, keys, nginx
    lab.stop(nginx)


def builtin_release_1(tree: Path, directory: Path) -> None:
    """The package's built-in lists: release 1 as built, with its signed manifest and key set."""
    directory.mkdir()
    for name in TREE_FILES:
        source = tree / "releases/1" / name if name == "lists.cache" else tree / name
        shutil.copyfile(source, directory / name)
    for name in ("keyset.json", "keyset.json.sig"):
        shutil.copyfile(tree / name, directory / name)


def update_section(lab: Lab, keys: Path) -> str:
    root = (keys / "root.pub").read_text().splitlines()[1]
    base = lab.workdir / "gw"
    return f"""
[update]
url = "http://{SERVER.v4}:{PORT}"
root_keys = ["{root}"]
interval = {INTERVAL}
jitter = 0
ram_dir = "{base}/ram"
flash_dir = "{base}/flash"
builtin_dir = "{base}/builtin"
"""


def ask(lab: Lab, name: str) -> DnsResult:
    return clients.dig(lab.clients["teen"], name, server=plan.LAN.router_v4, timeout=2.0)


def blocked(result: DnsResult) -> bool:
    return result.status == "NXDOMAIN" and any(
        record.rtype == "SOA" and record.data.startswith(SOA_OWNER) for record in result.authority
    )


@contextlib.contextmanager
def updating_copgate(lab: Lab, keys: Path) -> Iterator[Gateway]:
    """copgate with the lab's config, its lists the release in force and the lab list."""
    base = lab.workdir / "gw"
    _default, lab_list = compile_lab_lists(lab.workdir)
    lists = (base / "ram" / "current" / "lists.cache", lab_list)
    config = write_config(lab.workdir, lists, update_section(lab, keys))
    with serving(lab, config, lists) as gateway:
        yield gateway


def test_a_name_added_in_a_new_release_is_blocked_within_one_poll_and_no_verdict_is_lost(
    lab: Lab, tree_server: tuple[Path, Path, LabProcess]
) -> None:
    tree, keys, _nginx = tree_server
    (lab.workdir / "gw").mkdir(exist_ok=True)
    builtin_release_1(tree, lab.workdir / "gw" / "builtin")
    with updating_copgate(lab, keys) as gw:
        gw.wait_log(r"update: no news: release 1 is current", 0, timeout=INTERVAL)
        assert not blocked(ask(lab, ADDED)) and ask(lab, ADDED).status == "NOERROR"
        before = gw.counters()
        since = gw.mark()
        assert publish(lab, tree, keys, ["old.example", ADDED]) == 2
        published = time.monotonic()
        answers: list[DnsResult] = []
        while time.monotonic() - published < INTERVAL + 5:
            answers.append(ask(lab, KEPT))
            result = ask(lab, ADDED)
            answers.append(result)
            if blocked(result):
                break
        waited = time.monotonic() - published
        assert blocked(answers[-1]), gw.log(since)[-3000:]
        assert waited < INTERVAL + 3  # within one poll (and the loop's one-second look)
        log = gw.log(since)
        assert "update: installed release 2 via delta" in log
        assert "lists: new release in force" in log
        assert all(answer.answered for answer in answers)
        assert all(a.status == "NOERROR" for a in answers[::2])  # the kept name stays allowed
        after = gw.counters()
    assert after["failures"] == before["failures"] == 0
    assert after["handler_failures"] == 0
    for queue, stats in after["queues"].items():
        old = before["queues"][queue]
        for key in ("verdict_failures", "enobufs", "kernel_dropped", "user_dropped"):
            assert stats[key] == old[key] == 0, (queue, key)
