"""``copgate check`` with the release's provenance.json beside the cache, and without it.

What a gateway's administrator pays to learn which proposal listed a site:
``copgate check NAME`` on a small cache, run in a fresh child process, once
with no ``provenance.json`` beside the cache (the baseline: the decision
alone) and once with one of 1,100 decisions (the size the curation service
wrote in its benchmark, BENCHMARKS.md "Curation service") and one of 17,000
(about ``MAX_PROVENANCE_BYTES``, the largest a gateway keeps). Each child
prints its wall time and ``VmHWM`` (its own peak resident memory); each run
is done three times, keeping the best time and the worst memory (the
machine is shared). The figures go into BENCHMARKS.md, "Provenance".

Run: .venv/bin/python benchmarks/bench_provenance.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.lists.compile import build_cache  # noqa: E402
from copgate.lists.model import ListEntry  # noqa: E402
from copgate.lists.provenance import MAX_PROVENANCE_BYTES, PROVENANCE  # noqa: E402

SIZES = (1_100, 17_000)
TRIALS = 3
NAME = "site5.example"
CHILD = """
import sys, time
started = time.perf_counter()
from copgate.cli import main
status = main(sys.argv[1:])
elapsed = time.perf_counter() - started
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(f"BENCH {elapsed:.4f} {hwm}", file=sys.stderr)
sys.exit(status)
"""


def provenance(decisions: int) -> bytes:
    """A provenance.json in the service's layout (copgate.distributor.curation.assemble)."""
    entry = {
        "list": "default",
        "kind": "block",
        "action": "add",
        "expert": "erin",
        "approver": "ada",
        "approved": "2026-12-05T09:30:00.123456+00:00",
        "category": "gambling",
    }
    document = {
        "format": 1,
        "release": 1,
        "sources": [
            {
                "name": "ut1",
                "url": "https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz",
                "format": "ut1",
                "sha256": "",
                "fetched": "2026-12-05T03:00:00+00:00",
                "categories": ["adult", "gambling"],
            }
        ],
        "entries": [
            {"name": f"site{i}.example", "proposal": i + 1, **entry} for i in range(decisions)
        ],
        "removed": [],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


def run(config: Path) -> tuple[float, int, str]:
    best, worst, out = float("inf"), 0, ""
    for _ in range(TRIALS):
        child = subprocess.run(
            [sys.executable, "-c", CHILD, "check", NAME, "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(ROOT)},
        )
        line = next(x for x in child.stderr.splitlines() if x.startswith("BENCH"))
        _, elapsed, hwm = line.split()
        best, worst, out = min(best, float(elapsed)), max(worst, int(hwm)), child.stdout
    return best, worst, out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        entries = [ListEntry(f"site{i}.example", frozenset({"gambling"})) for i in range(20_000)]
        data, _ = build_cache(entries, build_time=1_767_225_600)
        (base / "lists.cache").write_bytes(data)
        config = base / "copgate.toml"
        config.write_text(
            f'[general]\nlists = ["{base / "lists.cache"}"]\ntimezone = "UTC0"\n\n'
            '[group.everyone]\nblock_categories = ["gambling"]\n'
        )
        t0, m0, _ = run(config)
        print(f"{'provenance.json':<32} {'bytes':>10} {'time s':>8} {'peak RSS KB':>12} ratio")
        print(f"{'none (baseline)':<32} {0:>10} {t0:>8.3f} {m0:>12} 1.00")
        for decisions in SIZES:
            data = provenance(decisions)
            assert len(data) <= MAX_PROVENANCE_BYTES, len(data)
            (base / PROVENANCE).write_bytes(data)
            elapsed, hwm, out = run(config)
            assert f"proposal #{5 + 1} " in out, out
            label = f"{decisions:,} decisions"
            print(f"{label:<32} {len(data):>10} {elapsed:>8.3f} {hwm:>12} {elapsed / t0:.2f}")
            print(f"{'  peak RSS over the baseline':<32} {'':>10} {'':>8} {hwm - m0:>12}")


if __name__ == "__main__":
    main()
