"""What copgate takes on a router: resident memory with 100k and 840k names, and package sizes.

For each list size (the first 100,000 names of ``corpus_840k`` and all
839,126, compiled as ``adult``), a fresh process does what the daemon does
before and while it serves: imports ``copgate.daemon.run`` (the daemon's
whole import graph, cryptography included), opens the cache as the daemon
does (``ListSet.open``), then looks up every listed name and as many
unlisted ones (the worst case: every page of the cache touched). It prints
``VmRSS`` and its parts (``RssAnon``: the process's own memory; ``RssFile``:
pages of the interpreter, libraries and the mapped cache, which the kernel
can drop and read again under pressure). The baseline, in the same run, is
the same process with no list opened: the lists' cost is the difference.

Then the package sizes: the SDK-less ``.ipk`` (``copgate.packaging.ipk``,
with the built-in lists), its installed size, and the wheel.

Run: .venv/bin/python benchmarks/bench_footprint.py   (about 40 s)
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.lists.compile import EntryTable, build_cache  # noqa: E402
from copgate.lists.model import ListEntry  # noqa: E402
from copgate.packaging.ipk import build_ipk, read_recipe  # noqa: E402
from copgate.packaging.stage import stage  # noqa: E402
from copgate.packaging.wheel import build_wheel  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "lists" / "corpus_840k.txt.gz"
SIZES = (100_000, None)
"""The first 100,000 names, and all of them."""
BUILT = 1_700_000_000

CHILD = """
import json, sys, time
def status():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields
out = {"bare": status()}
import copgate.daemon.run  # the daemon's imports
from copgate.lists.listset import ListSet
out["imported"] = status()
cache, names_file = sys.argv[1], sys.argv[2]
if cache:
    lists = ListSet.open([cache])
    started = time.perf_counter()
    lookups = hits = 0
    # Streamed from the file: a list of 840k names would be the harness's
    # memory (some 60 MB of str), not copgate's.
    with open(names_file) as stream:
        for line in stream:
            name = line.strip()
            hits += bool(lists.lookup(name).categories)
            hits += bool(lists.lookup("x-" + name).categories)
            lookups += 2
    out["lookups"] = lookups
    out["hits"] = hits
    out["seconds"] = time.perf_counter() - started
out["served"] = status()
print(json.dumps(out))
"""


def measure(cache: Path | None, names: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(cache or ""), str(names)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    measured: dict[str, object] = json.loads(result.stdout)
    return measured


def main() -> int:
    with gzip.open(CORPUS, "rt") as file:
        corpus = file.read().split()
    with tempfile.TemporaryDirectory(prefix="copgate-footprint-") as scratch:
        work = Path(scratch)
        rows = []
        names_file = work / "none.txt"
        names_file.write_text("")
        baseline = measure(None, names_file)
        for size in SIZES:
            names = corpus[:size] if size else corpus
            table = EntryTable()
            for name in names:
                table.add(ListEntry(name, frozenset({"adult"})))
            data, report = build_cache(table, {}, build_time=BUILT)
            cache = work / f"{len(names)}.cgc"
            cache.write_bytes(data)
            listed = work / f"{len(names)}.txt"
            listed.write_text("\n".join(names))
            rows.append((len(names), report.size, measure(cache, listed)))
        recipe = read_recipe((ROOT / "openwrt" / "copgate" / "Makefile").read_text())
        staged = stage(ROOT, work / "root")
        ipk = build_ipk(recipe, staged.root, work / "out", BUILT, "24.10")
        installed = sum(p.stat().st_size for p in staged.root.rglob("*") if p.is_file())
        lists_size = staged.lists_cache.stat().st_size
        wheel = build_wheel(ROOT, work / "wheel")
        ipk_size, wheel_size = ipk.stat().st_size, wheel.stat().st_size

    def mb(sample: object, key: str) -> float:
        assert isinstance(sample, dict)
        return float(sample[key])

    print("| | names | cache | RSS | RssAnon | RssFile | RSS - baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| bare interpreter | | | {mb(baseline['bare'], 'VmRSS'):.1f} MB | | | |")
    base = mb(baseline["served"], "VmRSS")
    print(
        f"| daemon imports, no list (baseline) | 0 | | {base:.1f} MB |"
        f" {mb(baseline['served'], 'RssAnon'):.1f} MB"
        f" | {mb(baseline['served'], 'RssFile'):.1f} MB | |"
    )
    for count, size, sample in rows:
        served = sample["served"]
        rss = mb(served, "VmRSS")
        print(
            f"| every name looked up | {count:,} | {size / 1e6:.2f} MB | {rss:.1f} MB |"
            f" {mb(served, 'RssAnon'):.1f} MB | {mb(served, 'RssFile'):.1f} MB"
            f" | {rss - base:.1f} MB |"
        )
    (small, _s, first), (large, _l, second) = rows
    growth_small = mb(first["served"], "VmRSS") - base
    growth_large = mb(second["served"], "VmRSS") - base
    print(f"\nRSS growth {large:,} / {small:,} names: {growth_large / growth_small:.2f}x")
    for count, _size, sample in rows:
        assert isinstance(sample, dict)
        print(f"{count:,} names: {sample['hits']:,} of {sample['lookups']:,} lookups listed")
    print(
        f"\n.ipk: {ipk_size / 1e6:.2f} MB ({ipk.name}); installed: {installed / 1e6:.2f} MB,"
        f" of it the built-in lists {lists_size / 1e6:.2f} MB"
    )
    print(f"wheel: {wheel_size / 1e6:.2f} MB ({wheel.name}, lists and templates included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
