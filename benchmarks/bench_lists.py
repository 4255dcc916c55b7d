"""The list cache beside dnsmasq, unbound and a Python set, on the same names, in one run.

On ``corpus_840k`` (839,126 real blocklist domains, ../shared/data/lists):

- copgate: ``copgate compile`` of the corpus (wall and CPU time, file size,
  bytes per name); then, in a fresh process, opening the cache, a first
  lookup, and 100,000 lookups: the 50,000 names of ``top50k.txt`` each with
  ``www.`` in front (so the whole parent walk runs) and 50,000 listed names;
  resident memory (``VmRSS``) before opening and after the last lookup, and
  the median and 99th percentile of single lookups.
- dnsmasq with one ``local=/name/`` line per name and unbound with one
  ``local-zone: "name" always_nxdomain`` per name, each started on loopback
  on a free high port as a child process: the time from start until it
  answers its first query (a UDP query built here), its resident memory
  then, and the same without the list, so that growth and extra time are
  the list's alone.
- a Python ``set`` of the names: memory growth and the same lookup walk.

Then a synthetic point: deterministic names at 1.25 million and 5 million
(the size of UT1's adult category), compiled and looked up the same way, to
show that size and compile time grow linearly and lookup time stays flat
(``--quick`` skips it). Each copgate and set measurement runs in child
processes of its own, so one's memory never counts in another's; it runs in
three of them and keeps the best times (the worst memory), because on this
shared machine a whole process sometimes runs at two thirds of the speed.

The machine is shared (2 cores): wall times carry other people's load, so
CPU times are printed beside them; read the ratios.

Run: .venv/bin/python benchmarks/bench_lists.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.lists.cache import ListCache  # noqa: E402
from copgate.lists.compile import EntryTable, build_cache  # noqa: E402
from copgate.lists.install import install_cache  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPUS = DATA / "lists" / "corpus_840k.txt.gz"
TOP50K = DATA / "names" / "top50k.txt"
LISTED_SAMPLE = 50_000
TIMED_PASSES = 3
"""Timed passes over the workload; memory is read after the first, times are the best pass."""
TRIALS = 3
SYNTHETIC = (1_250_000, 5_000_000)
"""A factor of 4 apart, so both have the same bucket load and prefilter bits per name:
bytes per name must come out equal, and compile time about 4 times."""
"""Processes per measurement (see ``best_process``)."""
SERVER_DEADLINE = 120.0  # seconds a server may take to answer before the run fails
PROBE_ZONE = "probe.copgate.test"  # in every server config, with or without the list
TARGETS = {
    "bytes/name": 8.5,
    "open ms": 1.0,
    "rss growth MB": 10.0,
    "median us": 3.0,
    "compile s": 5.0,
    "rss ratio vs dnsmasq": 8.0,
    "ready ratio vs dnsmasq": 100.0,
}


# ---------------------------------------------------------------------------
# Measuring a process: resident memory from /proc.


def status_kb(pid: int | str, field: str = "VmRSS") -> int:
    """A ``kB`` field of /proc/PID/status (``self`` for this process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


# ---------------------------------------------------------------------------
# Workloads.


def corpus_names() -> list[str]:
    with gzip.open(CORPUS, "rt") as file:
        return file.read().split()


def workload(listed: list[str]) -> list[str]:
    """50,000 popular names with ``www.`` in front, then 50,000 listed names from all over."""
    benign = ["www." + name for name in TOP50K.read_text().split()]
    step = max(1, len(listed) // LISTED_SAMPLE)
    return benign + listed[::step][:LISTED_SAMPLE]


_TLDS = ("com", "net", "org", "ru", "de", "info", "xyz", "io", "fr", "co.uk", "com.br", "top")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def synthetic_names(count: int) -> Iterator[str]:
    """``count`` distinct names, the same on every run: scrambled base-36 labels, mixed depths."""
    for i in range(count):
        scrambled = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64)
        label = ""
        value = scrambled >> 8
        for _ in range(6 + (scrambled & 7)):
            value, digit = divmod(value, 36)
            label += _ALPHABET[digit]
        name = f"{label}{i:x}.{_TLDS[(scrambled >> 3) % len(_TLDS)]}"
        yield name if scrambled & 0x30 else f"cdn{(scrambled >> 40) & 63}.{name}"


# ---------------------------------------------------------------------------
# Child processes: a cache or a set measured in a process of its own.


def child_copgate(cache_path: str, workload_path: str) -> dict[str, Any]:
    names = Path(workload_path).read_text().split()
    durations = array("q", bytes(8 * len(names)))
    clock = time.perf_counter_ns
    gc.collect()
    before_kb = status_kb("self")
    start = clock()
    cache = ListCache.open(cache_path)
    opened = clock()
    cache.lookup(names[0])
    first = clock()
    lookup = cache.lookup
    passes: list[dict[str, Any]] = []
    for _pass in range(TIMED_PASSES):
        for index, name in enumerate(names):
            began = clock()
            lookup(name)
            durations[index] = clock() - began
        if not passes:
            after_kb = status_kb("self")  # growth after one pass over every name
        passes.append(distribution(durations, len(names) // 2))
    start_warm = clock()
    listed = sum(lookup(name).listed for name in names)
    warm_ns = clock() - start_warm
    return {
        "open_ns": opened - start,
        "first_lookup_ns": first - opened,
        "rss_growth_kb": after_kb - before_kb,
        "rss_file_kb": status_kb("self", "RssFile"),
        "listed": listed,
        "warm_mean_ns": warm_ns / len(names),
        "timer_ns": timer_overhead(durations),
        "first_pass": passes[0],
        **best_of(passes),
    }


def best_of(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number's lowest value over the passes: the machine is shared, noise only adds."""
    return {
        key: min(figures[key] for figures in passes) if isinstance(value, int | float) else value
        for key, value in passes[0].items()
    }


def timer_overhead(durations: array[int]) -> int:
    """Median cost of the timing itself (two clock reads and a store), included above."""
    clock = time.perf_counter_ns
    for index in range(len(durations)):
        began = clock()
        durations[index] = clock() - began
    return sorted(durations)[len(durations) // 2]


def child_set(workload_path: str) -> dict[str, Any]:
    names = Path(workload_path).read_text().split()
    durations = array("q", bytes(8 * len(names)))
    clock = time.perf_counter_ns
    gc.collect()
    before_kb = status_kb("self")
    started = clock()
    listed_names = set(corpus_names())
    built_ns = clock() - started
    gc.collect()
    after_kb = status_kb("self")

    def lookup(name: str) -> str | None:
        while True:
            if name in listed_names:
                return name
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1 :]

    passes: list[dict[str, Any]] = []
    for _pass in range(TIMED_PASSES):
        for index, name in enumerate(names):
            began = clock()
            lookup(name)
            durations[index] = clock() - began
        passes.append(distribution(durations, len(names) // 2))
    return {"rss_growth_kb": after_kb - before_kb, "build_ns": built_ns, **best_of(passes)}


def distribution(durations: array[int], benign: int) -> dict[str, float]:
    every = sorted(durations)
    unlisted = sorted(durations[:benign])
    listed = sorted(durations[benign:])
    return {
        "median_ns": every[len(every) // 2],
        "p99_ns": every[len(every) * 99 // 100],
        "median_benign_ns": unlisted[len(unlisted) // 2],
        "median_listed_ns": listed[len(listed) // 2],
    }


def in_child(kind: str, *args: str) -> dict[str, Any]:
    """Run ``child_<kind>(*args)`` in a fresh interpreter; its result as a dict."""
    command = [sys.executable, __file__, "--child", kind, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ---------------------------------------------------------------------------
# DNS servers as peers.


def dns_query(name: str, ident: int) -> bytes:
    """A recursive A query for ``name`` (RFC 1035 §4.1), built by hand."""
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)


def ask(sock: socket.socket, name: str, ident: int) -> int | None:
    """The RCODE of the answer to one query, or None when none came in time."""
    try:
        sock.send(dns_query(name, ident))
        while True:
            answer = sock.recv(4096)
            if len(answer) >= 12 and struct.unpack("!H", answer[:2])[0] == ident:
                return answer[3] & 0x0F
    except (TimeoutError, ConnectionRefusedError):
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ServerRun:
    ready_s: float
    """From process start to its first answer."""
    rss_kb: int
    """Resident memory once it answers."""
    listed_rcode: int | None
    """The answer to a listed name (3, NXDOMAIN, when the list is loaded)."""


def serve(argv: list[str], port: int, listed_name: str) -> ServerRun:
    """Start a server, poll until it answers, read its memory, stop it by pid."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("127.0.0.1", port))
            sock.settimeout(0.05)
            ident = 0
            while ask(sock, PROBE_ZONE, ident := ident + 1) is None:
                if process.poll() is not None:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"{argv[0]} exited {process.returncode}: {error}")
                if time.perf_counter() - started > SERVER_DEADLINE:
                    raise RuntimeError(f"{argv[0]} did not answer in {SERVER_DEADLINE} s")
                time.sleep(0.001)
            ready = time.perf_counter() - started
            rss = status_kb(process.pid)
            sock.settimeout(2.0)
            listed_rcode = ask(sock, listed_name, ident + 1)
        return ServerRun(ready, rss, listed_rcode)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dnsmasq(workdir: Path, names: list[str]) -> ServerRun:
    port = free_port()
    conf = workdir / f"dnsmasq-{len(names)}.conf"
    with conf.open("w") as out:
        out.write(
            f"port={port}\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n"
            f"no-poll\npid-file={workdir}/dnsmasq.pid\nlocal=/{PROBE_ZONE}/\n"
        )
        out.writelines(f"local=/{name}/\n" for name in names)
    argv = ["/usr/sbin/dnsmasq", "--keep-in-foreground", f"--conf-file={conf}"]
    return serve(argv, port, names[0] if names else PROBE_ZONE)


def unbound(workdir: Path, names: list[str]) -> ServerRun:
    port = free_port()
    conf = workdir / f"unbound-{len(names)}.conf"
    with conf.open("w") as out:
        out.write(
            "server:\n  interface: 127.0.0.1\n"
            f"  port: {port}\n  do-ip6: no\n  num-threads: 1\n  so-reuseport: no\n"
            f'  username: ""\n  chroot: ""\n  directory: "{workdir}"\n  pidfile: ""\n'
            '  use-syslog: no\n  logfile: ""\n  verbosity: 0\n  do-daemonize: no\n'
            '  module-config: "iterator"\n'
            f'  local-zone: "{PROBE_ZONE}" always_nxdomain\n'
        )
        out.writelines(f'  local-zone: "{name}" always_nxdomain\n' for name in names)
        out.write("remote-control:\n  control-enable: no\n")
    argv = ["/usr/sbin/unbound", "-d", "-c", str(conf)]
    return serve(argv, port, names[0] if names else PROBE_ZONE)


# ---------------------------------------------------------------------------
# copgate builds.


@dataclass(frozen=True, slots=True)
class Build:
    names: int
    size: int
    wall_s: float
    cpu_s: float


def compile_with_cli(output: Path) -> Build:
    """``copgate compile`` of the corpus, as an operator runs it."""
    command = [sys.executable, "-m", "copgate", "compile", str(CORPUS), "--category", "corpus"]
    before = os.times()
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*command, "--output", str(output)], check=True, env=env, capture_output=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return Build(839_126, output.stat().st_size, wall, cpu)


def compile_names(names: list[str], output: Path) -> Build:
    """Build and install in this process (synthetic names need no parsing)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    table = EntryTable()
    table.add_names(names, frozenset({"synthetic"}))
    data, report = build_cache(table, build_time=int(time.time()))
    install_cache(data, output)
    return Build(
        report.names,
        report.size,
        time.perf_counter() - started,
        time.process_time() - cpu_started,
    )


# ---------------------------------------------------------------------------
# The run.


def line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44} {value:>16}  {target}")


def check(label: str, value: float, bigger_is_better: bool = False) -> str:
    limit = TARGETS[label]
    ok = value >= limit if bigger_is_better else value <= limit
    return f"(target {'>=' if bigger_is_better else '<='} {limit:g}: {'ok' if ok else 'MISSED'})"


def best_process(kind: str, *args: str) -> dict[str, Any]:
    """``in_child`` run ``TRIALS`` times: the lowest times and the highest memory.

    A whole process sometimes runs slow here (a shared core, a busy sibling
    thread), so the best of several processes is the machine's figure;
    memory takes the worst, to stay honest.
    """
    trials = [in_child(kind, *args) for _ in range(TRIALS)]
    best = best_of(trials)
    for key in ("rss_growth_kb", "rss_file_kb"):
        if key in best:
            best[key] = max(trial[key] for trial in trials)
    if "first_pass" in best:
        best["first_pass"] = trials[0]["first_pass"]
    return best


def measure_copgate(cache: Path, workload_file: Path) -> dict[str, Any]:
    return best_process("copgate", str(cache), str(workload_file))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip the synthetic points")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        children: dict[str, Callable[..., dict[str, Any]]] = {
            "copgate": child_copgate,
            "set": child_set,
        }
        print(json.dumps(children[args.child[0]](*args.child[1:])))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as tmp:
        run(Path(tmp), quick=args.quick)
    return 0


def run(workdir: Path, quick: bool) -> None:
    names = corpus_names()
    work = workload(names)
    workload_file = workdir / "workload.txt"
    workload_file.write_text("\n".join(work) + "\n")
    print(f"corpus_840k: {len(names)} names; workload: {len(work)} lookups")

    cache = workdir / "corpus.cache"
    build = compile_with_cli(cache)
    copgate = measure_copgate(cache, workload_file)
    python_set = best_process("set", str(workload_file))
    dnsmasq_empty, dnsmasq_full = dnsmasq(workdir, []), dnsmasq(workdir, names)
    unbound_empty, unbound_full = unbound(workdir, []), unbound(workdir, names)

    print("\ncopgate (compiled cache, memory-mapped)")
    per_name = build.size / build.names
    line("compile (copgate compile, wall / CPU)", f"{build.wall_s:.2f} / {build.cpu_s:.2f} s")
    print(f"{'':48}{check('compile s', build.cpu_s)} on CPU time")
    line("file size", f"{build.size:,} B")
    line("bytes per name", f"{per_name:.2f}", check("bytes/name", per_name))
    line("open", f"{copgate['open_ns'] / 1e6:.3f} ms", check("open ms", copgate["open_ns"] / 1e6))
    line("first lookup", f"{copgate['first_lookup_ns'] / 1e3:.1f} us")
    growth_mb = copgate["rss_growth_kb"] / 1024
    line(
        "RSS growth, open + 100k lookups", f"{growth_mb:.1f} MB", check("rss growth MB", growth_mb)
    )
    line("  of which file pages (RssFile now)", f"{copgate['rss_file_kb'] / 1024:.1f} MB")
    median_us = copgate["median_ns"] / 1e3
    line(
        "median lookup, all 100k (best of 3 passes)",
        f"{median_us:.2f} us",
        check("median us", median_us),
    )
    line("  median, 50k www.<top50k> (full walk)", f"{copgate['median_benign_ns'] / 1e3:.2f} us")
    line("  median, 50k listed names", f"{copgate['median_listed_ns'] / 1e3:.2f} us")
    line("p99 lookup", f"{copgate['p99_ns'] / 1e3:.2f} us")
    cold = copgate["first_pass"]
    line(
        "first pass: median / www.<top50k> / listed",
        f"{cold['median_ns'] / 1e3:.2f} / "
        f"{cold['median_benign_ns'] / 1e3:.2f} / {cold['median_listed_ns'] / 1e3:.2f} us",
    )
    line("  timer overhead inside each figure", f"{copgate['timer_ns'] / 1e3:.2f} us")
    line("mean lookup, second pass (no timer per call)", f"{copgate['warm_mean_ns'] / 1e3:.2f} us")
    line("lookups answered listed", f"{copgate['listed']:,}")

    print("\npeers (same 839,126 names)")
    servers = {"dnsmasq": (dnsmasq_empty, dnsmasq_full), "unbound": (unbound_empty, unbound_full)}
    for label, (empty, full) in servers.items():
        growth = (full.rss_kb - empty.rss_kb) / 1024
        extra = full.ready_s - empty.ready_s
        line(
            f"{label}: RSS without / with list",
            f"{empty.rss_kb / 1024:.1f} / {full.rss_kb / 1024:.1f} MB",
        )
        line(f"{label}: RSS growth from the list", f"{growth:.1f} MB")
        line(f"{label}: ready without / with list", f"{empty.ready_s:.3f} / {full.ready_s:.3f} s")
        line(f"{label}: extra time to first answer", f"{extra:.3f} s")
        line(f"{label}: listed name answered", f"rcode {full.listed_rcode}", "(3 = NXDOMAIN)")
    line("python set: RSS growth", f"{python_set['rss_growth_kb'] / 1024:.1f} MB")
    line("python set: build", f"{python_set['build_ns'] / 1e9:.2f} s")
    line("python set: median lookup", f"{python_set['median_ns'] / 1e3:.2f} us")
    benign_us, listed_us = (
        python_set["median_benign_ns"] / 1e3,
        python_set["median_listed_ns"] / 1e3,
    )
    line("python set: median www.<top50k> / listed", f"{benign_us:.2f} / {listed_us:.2f} us")

    print("\nratios")
    copgate_ready_s = (copgate["open_ns"] + copgate["first_lookup_ns"]) / 1e9
    dnsmasq_growth = dnsmasq_full.rss_kb - dnsmasq_empty.rss_kb
    dnsmasq_extra = dnsmasq_full.ready_s - dnsmasq_empty.ready_s
    rss_ratio = dnsmasq_growth / copgate["rss_growth_kb"]
    ready_ratio = dnsmasq_extra / copgate_ready_s
    line(
        "dnsmasq RSS growth / copgate RSS growth",
        f"{rss_ratio:.1f}x",
        check("rss ratio vs dnsmasq", rss_ratio, True),
    )
    line(
        "dnsmasq extra ready time / copgate open+first",
        f"{ready_ratio:,.0f}x",
        check("ready ratio vs dnsmasq", ready_ratio, True),
    )
    unbound_growth = unbound_full.rss_kb - unbound_empty.rss_kb
    line(
        "unbound RSS growth / copgate RSS growth",
        f"{unbound_growth / copgate['rss_growth_kb']:.1f}x",
    )
    line(
        "python set RSS growth / copgate RSS growth",
        f"{python_set['rss_growth_kb'] / copgate['rss_growth_kb']:.1f}x",
    )
    line(
        "copgate median lookup / python set median",
        f"{copgate['median_ns'] / python_set['median_ns']:.1f}x",
    )

    if not quick:
        synthetic_points(workdir)


def synthetic_points(workdir: Path) -> None:
    print("\nsynthetic names (deterministic), the same measurements")
    print(
        f"  {'names':>10} {'size B':>12} {'B/name':>7} {'compile wall/CPU s':>19} "
        f"{'median us':>10} {'www.top50k us':>14} {'listed us':>10} {'RSS MB':>7}"
    )
    results = {}
    for count in SYNTHETIC:
        names = list(synthetic_names(count))
        cache = workdir / f"synthetic-{count}.cache"
        build = compile_names(names, cache)
        work_file = workdir / f"workload-{count}.txt"
        work_file.write_text("\n".join(workload(names)) + "\n")
        del names
        gc.collect()
        figures = measure_copgate(cache, work_file)
        results[count] = (build, figures)
        print(
            f"  {build.names:>10,} {build.size:>12,} {build.size / build.names:>7.2f} "
            f"{build.wall_s:>9.2f} / {build.cpu_s:<7.2f} {figures['median_ns'] / 1e3:>10.2f} "
            f"{figures['median_benign_ns'] / 1e3:>14.2f} "
            f"{figures['median_listed_ns'] / 1e3:>10.2f} {figures['rss_growth_kb'] / 1024:>7.1f}"
        )
        cache.unlink()
    (small, small_figures), (big, big_figures) = results[SYNTHETIC[0]], results[SYNTHETIC[-1]]
    print(
        "  5M / 1.25M: names x{:.1f}, size x{:.2f}, compile CPU x{:.2f}, "
        "median lookup x{:.2f}".format(
            big.names / small.names,
            big.size / small.size,
            big.cpu_s / small.cpu_s,
            big_figures["median_ns"] / small_figures["median_ns"],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
