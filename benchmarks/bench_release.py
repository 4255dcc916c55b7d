"""A release delta beside the full download, for a 1% change of the 839,126-name corpus.

Release 1 is ``corpus_840k`` (../shared/data/lists), compiled as ``copgate
dist build`` compiles it. Release 2 removes 0.5% of the names and adds as
many new ones (both chosen by a fixed seed, so every run measures the same
change), compiled with release 1 passed in as ``previous`` (as ``dist
build`` does). Then, in one run:

- sizes: the full cache (what a gateway downloads without a delta), the
  same compressed by gzip -6 (what a compressing web server would send), a
  plain copy/insert byte diff (``make_delta(by_section=False)``) and
  copgate's section-aware delta; the target is delta <= 3% of the full cache;
- distributor's side: compile time of release 2, delta build time;
- gateway's side, each in a fresh child process: applying the delta to
  release 1 into a new file (``apply_delta``) against the full download's
  own work on the gateway (streaming the full artefact into a new file with
  its SHA-256), and a child that only imports the same modules (the steady
  state): wall time, and peak resident memory above the steady state. The
  peak is ``VmHWM`` of /proc/self/status, the child's own high-water mark:
  ``ru_maxrss`` would carry this big parent's peak across fork and exec.
  The issue's memory target is the new release's own size (the file
  written to tmpfs) plus at most 2 MB above the steady state.

Each child runs three times and keeps the best time and the worst memory
(the machine is shared). The figures go into BENCHMARKS.md, "Releases".

Run: .venv/bin/python benchmarks/bench_release.py
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.lists.cache import ListCache  # noqa: E402
from copgate.lists.compile import EntryTable, build_cache  # noqa: E402
from copgate.release.delta import make_delta  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "lists" / "corpus_840k.txt.gz"
CHANGE = 0.01
"""Half removed, half added."""
SEED = 11
TRIALS = 3
TARGET_DELTA_SHARE = 0.03
TARGET_RSS_OVER_STEADY_KB = 2048
CATEGORIES = frozenset({"adult"})
BUILD_TIME = 1_767_225_600

CHILD_SETUP = """
import hashlib, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from copgate.release.artefact import apply_delta
from copgate.release.delta_format import CHUNK
"""
CHILD_STEADY = "started = time.perf_counter()\n"
CHILD_APPLY = """
started = time.perf_counter()
with open({delta!r}, "rb") as delta, open({out!r}, "wb") as out:
    apply_delta(Path({old!r}), delta, out, {limit})
"""
CHILD_FULL = """
started = time.perf_counter()
running = hashlib.sha256()
with open({full!r}, "rb") as source, open({out!r}, "wb") as out:
    while chunk := source.read(CHUNK):
        running.update(chunk)
        out.write(chunk)
"""
CHILD_REPORT = """
elapsed = time.perf_counter() - started
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(elapsed, peak.split()[1])
"""


def changed_names(names: list[str]) -> list[str]:
    """0.5% of ``names`` removed and as many new names added, the same every run."""
    rng = random.Random(SEED)
    count = int(len(names) * CHANGE / 2)
    removed = set(rng.sample(range(len(names)), count))
    kept = [name for index, name in enumerate(names) if index not in removed]
    # New names shaped like the corpus: a listed name with its first label replaced.
    listed = set(names)
    added: list[str] = []
    while len(added) < count:
        donor = rng.choice(names)
        name = f"n{rng.getrandbits(32):08x}{donor[donor.find('.') :]}"
        if "." in donor and name not in listed:
            listed.add(name)
            added.append(name)
    return kept + added


def compile_names(names: list[str], release: int, previous: ListCache | None) -> bytes:
    table = EntryTable()
    table.add_names(names, CATEGORIES)
    data, _report = build_cache(
        table, build_time=BUILD_TIME + release, release=release, previous=previous
    )
    return data


def child(script: str) -> tuple[float, int]:
    """Best wall time (s) and worst peak RSS (kB) of ``script`` over TRIALS fresh processes."""
    times, peaks = [], []
    for _ in range(TRIALS):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        elapsed, peak = done.stdout.split()
        times.append(float(elapsed))
        peaks.append(int(peak))
    return min(times), max(peaks)


def main() -> int:
    with gzip.open(CORPUS, "rt") as file:
        names = file.read().split()
    old = compile_names(names, 1, None)
    new_names = changed_names(names)
    with tempfile.TemporaryDirectory(prefix="bench-release-") as directory:
        work = Path(directory)
        old_path, new_path = work / "1.cache", work / "2.cache"
        old_path.write_bytes(old)
        started = time.perf_counter()
        with ListCache.open(old_path) as previous:
            new = compile_names(new_names, 2, previous)
        compile_s = time.perf_counter() - started
        new_path.write_bytes(new)
        started = time.perf_counter()
        delta = make_delta(old, new)
        delta_s = time.perf_counter() - started
        started = time.perf_counter()
        plain = make_delta(old, new, by_section=False)
        plain_s = time.perf_counter() - started
        delta_path = work / "1-2.delta"
        delta_path.write_bytes(delta)
        out = work / "out.cache"
        setup = CHILD_SETUP.format(root=str(ROOT))
        steady = child(setup + CHILD_STEADY + CHILD_REPORT)
        apply = child(
            setup
            + CHILD_APPLY.format(
                delta=str(delta_path), out=str(out), old=str(old_path), limit=len(new)
            )
            + CHILD_REPORT
        )
        rebuilt = out.read_bytes() == new
        full = child(setup + CHILD_FULL.format(full=str(new_path), out=str(out)) + CHILD_REPORT)
    results: dict[str, Any] = {
        "names_old": len(names),
        "names_new": len(new_names),
        "full_bytes": len(new),
        "full_gzip_bytes": len(zlib.compress(new, 6)),
        "plain_diff_bytes": len(plain),
        "delta_bytes": len(delta),
        "delta_share": len(delta) / len(new),
        "compile_s": compile_s,
        "delta_build_s": delta_s,
        "plain_diff_build_s": plain_s,
        "apply_s": apply[0],
        "full_copy_s": full[0],
        "steady_rss_kb": steady[1],
        "apply_rss_kb": apply[1],
        "full_copy_rss_kb": full[1],
        "apply_rss_over_steady_kb": apply[1] - steady[1],
        "rebuilt_exactly": rebuilt,
    }
    report(results)
    ok = (
        rebuilt
        and results["delta_share"] <= TARGET_DELTA_SHARE
        and results["apply_rss_over_steady_kb"] <= TARGET_RSS_OVER_STEADY_KB
    )
    return 0 if ok else 1


def report(r: dict[str, Any]) -> None:
    full = r["full_bytes"]
    print(f"release 1: {r['names_old']:,} names; release 2: {r['names_new']:,} names (1% changed)")
    print(f"{'':34} {'bytes':>12} {'of full':>9}")
    for label, key in (
        ("full cache (download without delta)", "full_bytes"),
        ("full cache, gzip -6", "full_gzip_bytes"),
        ("plain copy/insert byte diff", "plain_diff_bytes"),
        ("copgate delta (section-aware)", "delta_bytes"),
    ):
        print(f"{label:34} {r[key]:>12,} {100 * r[key] / full:>8.2f}%")
    print(
        f"delta / full: {100 * r['delta_share']:.2f}% (target <= {100 * TARGET_DELTA_SHARE:.0f}%); "
        f"full / delta: {full / r['delta_bytes']:.0f}x; full gzip / delta: "
        f"{r['full_gzip_bytes'] / r['delta_bytes']:.0f}x"
    )
    print(
        f"distributor: compile release 2 {r['compile_s']:.2f} s, delta build "
        f"{r['delta_build_s']:.2f} s (plain diff {r['plain_diff_build_s']:.2f} s)"
    )
    print(
        f"gateway: apply delta {r['apply_s'] * 1000:.0f} ms vs streaming the full artefact "
        f"{r['full_copy_s'] * 1000:.0f} ms (the download itself not counted)"
    )
    print(
        f"gateway peak RSS: steady {r['steady_rss_kb']:,} kB, apply {r['apply_rss_kb']:,} kB "
        f"(+{r['apply_rss_over_steady_kb']:,} kB, target <= +{TARGET_RSS_OVER_STEADY_KB:,}), "
        f"full copy {r['full_copy_rss_kb']:,} kB; the new file in tmpfs: {full:,} B"
    )
    print(f"rebuilt exactly: {r['rebuilt_exactly']}")
    print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
