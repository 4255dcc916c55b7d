"""The gateway's side of a list update: download plus apply, and memory against the target.

Release 1 is ``corpus_840k`` (839,126 names, ../shared/data/lists); release
2 changes 1% of it, the same change as ``bench_release.py`` (0.5% removed,
as many added, fixed seed). Both are put in a signed release tree (key set
signed by a root key, manifest by a release key, a delta 1 -> 2), served by
``python -m http.server`` on 127.0.0.1 in a child process.

A second child is the gateway: release 1 installed in a RAM store on tmpfs
(/dev/shm) and opened as the daemon opens it (``ListSet`` through the
``current`` link, 50,000 lookups so its pages are in use), then
``Updater.check`` in a thread as the daemon's poller runs it (fetch and
verify the manifest, download and apply the delta or the whole cache, check
size and SHA-256 and the cache's invariants, store, swap), then the pickup
(open the new cache, close the old). This process samples, every 2 ms, the
gateway's resident memory (``VmRSS``) plus the bytes of copgate's files in
the RAM store, from the steady state before the update to the end of the
pickup. The issue's target: peak minus steady state at most the new
release's size plus 2 MB. The gateway's own ``VmHWM`` (reset before the
update through /proc/self/clear_refs) is printed too, so that a peak
between two samples is not missed.

Rows: the update by delta, and by full download (the same tree without the
delta). Each runs TRIALS times in fresh gateway processes; the best time and
the worst memory are kept (the machine is shared).

Run: .venv/bin/python benchmarks/bench_update.py
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_release import CORPUS, changed_names, compile_names  # noqa: E402

from copgate.lists.cache import ListCache  # noqa: E402
from copgate.release.delta import make_delta  # noqa: E402
from copgate.release.signify import (  # noqa: E402
    SecretKey,
    format_signature,
    generate_key,
    public_key_line,
    sign,
)

TRIALS = 3
SAMPLE = 0.002
TARGET_OVER_NEW_KB = 2048
CREATED = "2026-11-01T00:00:00Z"
EXPIRES = "2036-11-01T00:00:00Z"

GATEWAY = """
import json, os, sys, threading, time
sys.path.insert(0, {root!r})
from copgate.lists.listset import ListSet
from copgate.update.fetch import HttpFetcher
from copgate.update.model import UpdateSettings
from copgate.update.updater import Updater

settings = UpdateSettings(**json.loads({settings!r}))
lists = ListSet.open([settings.lists_path])
names = [line.strip() for line in open({probe!r})]
for name in names:
    lists.lookup(name)
updater = Updater(settings, HttpFetcher(time.monotonic), time.time)
warm = updater.check()  # the daemon's first poll: no news, and urllib, ssl, cryptography loaded
assert "no news" in warm.line, warm.line
print("warm", flush=True)
sys.stdin.readline()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # resets VmHWM to the current RSS
print("steady", flush=True)
sys.stdin.readline()
started = time.perf_counter()
outcome = updater.check()
checked = time.perf_counter() - started
new = ListSet.open([settings.lists_path])
lists.close()
lists = new
elapsed = time.perf_counter() - started
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({{"line": outcome.line, "check": checked, "total": elapsed, "hwm": int(hwm)}}),
      flush=True)
sys.stdin.readline()
"""


def signature(data: bytes, key: SecretKey) -> bytes:
    return format_signature(sign(data, key)).encode()


def manifest(release: int, cache: bytes, deltas: list[dict[str, Any]]) -> bytes:
    document = {
        "format": 1,
        "release": release,
        "created": CREATED,
        "expires": EXPIRES,
        "keyset": 1,
        "artefacts": {
            "lists.cache": {
                "path": f"releases/{release}/lists.cache",
                "size": len(cache),
                "sha256": hashlib.sha256(cache).hexdigest(),
            }
        },
        "deltas": deltas,
    }
    return json.dumps(document).encode()


def write_tree(tree: Path, caches: dict[int, bytes], delta: bytes | None) -> tuple[str, bytes]:
    """A signed tree with release 1's and 2's manifests beside it (``.1``, ``.2``).

    Returns the root key line and release 1's manifest and signature.
    """
    root, signer = generate_key(), generate_key()
    keyset = json.dumps(
        {
            "format": 1,
            "version": 1,
            "created": CREATED,
            "keys": [public_key_line(signer.public_key)],
            "revoked": [],
        }
    ).encode()
    (tree / "keyset.json").write_bytes(keyset)
    (tree / "keyset.json.sig").write_bytes(signature(keyset, root))
    for release, cache in caches.items():
        (tree / "releases" / str(release)).mkdir(parents=True)
        (tree / "releases" / str(release) / "lists.cache").write_bytes(cache)
    deltas = []
    if delta is not None:
        (tree / "deltas").mkdir()
        (tree / "deltas" / "1-2.delta").write_bytes(delta)
        deltas.append(
            {
                "from": 1,
                "path": "deltas/1-2.delta",
                "size": len(delta),
                "sha256": hashlib.sha256(delta).hexdigest(),
                "target": "lists.cache",
            }
        )
    second = manifest(2, caches[2], deltas)
    (tree / "release.json.2").write_bytes(second)
    (tree / "release.json.sig.2").write_bytes(signature(second, signer))
    first = manifest(1, caches[1], [])
    (tree / "release.json.1").write_bytes(first)
    (tree / "release.json.sig.1").write_bytes(signature(first, signer))
    return public_key_line(root.public_key), first + b"\n" + signature(first, signer)


def install_release_1(ram: Path, tree: Path, first: bytes) -> None:
    """Release 1 in force in the RAM store, as an earlier update left it."""
    manifest_data, sig = first.split(b"\n", 1)
    directory = ram / "1"
    directory.mkdir(parents=True)
    shutil.copyfile(tree / "releases/1/lists.cache", directory / "lists.cache")
    (directory / "release.json").write_bytes(manifest_data)
    (directory / "release.json.sig").write_bytes(sig)
    for name in ("keyset.json", "keyset.json.sig"):
        shutil.copyfile(tree / name, directory / name)
    os.symlink("1", ram / "current")
    # The flash copy is a flash write, not RAM: this run measures the RAM side.
    (ram / "state.json").write_text(json.dumps({"flash_copied": time.time()}))


def publish(tree: Path, release: int) -> None:
    """Make release 1's or 2's manifest the tree's (temp + rename, as ``dist publish``)."""
    for name in ("release.json", "release.json.sig"):
        shutil.copyfile(tree / f"{name}.{release}", tree / f".{name}.tmp")
        # http.server's Last-Modified has one-second steps: give each release its own.
        stamp = time.time() + 100 * release
        os.utime(tree / f".{name}.tmp", (stamp, stamp))
        os.replace(tree / f".{name}.tmp", tree / name)


def resident_kb(pid: int, store: Path) -> int:
    """Resident kB of ``pid`` except pages mapped from the store (counted as tmpfs bytes)."""
    total, skip = 0, False
    prefix = str(store)
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=1)[0]
            if first[0] in "0123456789abcdef" and "-" in first:  # a mapping's header line
                parts = line.split()
                skip = len(parts) >= 6 and parts[5].startswith(prefix)
            elif first == "Rss:" and not skip:
                total += int(line.split()[1])
    return total


def store_kb(directory: Path) -> int:
    """Bytes of copgate's files under ``directory`` (tmpfs), in kB."""
    total = 0
    for path, _dirs, files in os.walk(directory):
        for name in files:
            # A file may go while walking (a staging dir renamed, a release pruned).
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(path, name)).st_blocks * 512
    return total // 1024


def serve(tree: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(tree)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (http://...) ..."
    port = line.split(" port ")[1].split()[0]
    return server, f"http://127.0.0.1:{port}"


def one_update(tree: Path, root_line: str, first: bytes, probe: Path) -> dict[str, Any]:
    """One gateway process updating from release 1 to 2; its figures."""
    base = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    publish(tree, 1)
    server, url = serve(tree)
    try:
        ram = base / "ram"
        install_release_1(ram, tree, first)
        settings = {
            "url": url,
            "root_keys": [root_line],
            "ram_dir": str(ram),
            "flash_dir": str(base / "flash"),
            "builtin_dir": str(base / "builtin"),
        }
        script = GATEWAY.format(root=str(ROOT), settings=json.dumps(settings), probe=str(probe))
        gateway = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert gateway.stdin is not None and gateway.stdout is not None
        assert gateway.stdout.readline().strip() == "warm"
        publish(tree, 2)
        gateway.stdin.write("publish\n")
        gateway.stdin.flush()
        assert gateway.stdout.readline().strip() == "steady"
        steady_rss, steady_store = resident_kb(gateway.pid, ram), store_kb(ram)
        peak = steady_rss + steady_store
        done = threading.Event()
        result: list[str] = []

        def wait() -> None:
            result.append(gateway.stdout.readline() if gateway.stdout else "")
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        gateway.stdin.write("go\n")
        gateway.stdin.flush()
        while not done.is_set():
            peak = max(peak, resident_kb(gateway.pid, ram) + store_kb(ram))
            time.sleep(SAMPLE)
        figures: dict[str, Any] = json.loads(result[0])
        after = resident_kb(gateway.pid, ram) + store_kb(ram)
        gateway.stdin.write("bye\n")
        gateway.stdin.close()
        gateway.wait(30)
        figures.update(
            steady_rss=steady_rss,
            steady_store=steady_store,
            peak=peak,
            after=after,
            hwm_over=figures["hwm"] - steady_rss,
        )
        return figures
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best times, worst memory."""
    merged = dict(runs[0])
    for key in ("check", "total"):
        merged[key] = min(run[key] for run in runs)
    for key in ("peak", "hwm_over", "after"):
        merged[key] = max(run[key] for run in runs)
    merged["steady"] = min(run["steady_rss"] + run["steady_store"] for run in runs)
    return merged


def main() -> int:
    with gzip.open(CORPUS, "rt") as file:
        names = file.read().split()
    first = compile_names(names, 1, None)
    second = compile_names(changed_names(names), 2, ListCache.from_bytes(first, "release 1"))
    delta = make_delta(first, second)
    work = Path(tempfile.mkdtemp())
    probe = work / "probe.txt"
    probe.write_text("\n".join(names[::16][:50000]))
    rows = {}
    try:
        for label, with_delta in (("delta", True), ("full download", False)):
            tree = work / label.replace(" ", "-")
            tree.mkdir()
            root_line, signed_first = write_tree(
                tree, {1: first, 2: second}, delta if with_delta else None
            )
            rows[label] = best(
                [one_update(tree, root_line, signed_first, probe) for _ in range(TRIALS)]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    new_kb = len(second) // 1024
    print(
        f"corpus: {len(names)} names; release 2 changes 1%: cache {len(second)} bytes, "
        f"delta {len(delta)} bytes ({100 * len(delta) / len(second):.2f}%)"
    )
    print(
        f"{'update':<14} {'check s':>8} {'+pickup s':>9} {'steady kB':>10} {'peak kB':>8} "
        f"{'over kB':>8} {'HWM over':>9} {'target kB':>10}  verdict"
    )
    for label, row in rows.items():
        over = row["peak"] - row["steady"]
        target = new_kb + TARGET_OVER_NEW_KB
        verdict = "ok" if over <= target else "OVER"
        print(
            f"{label:<14} {row['check']:>8.2f} {row['total']:>9.2f} {row['steady']:>10} "
            f"{row['peak']:>8} {over:>8} {row['hwm_over']:>9} {target:>10}  {verdict}"
        )
        print(f"  {row['line']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
