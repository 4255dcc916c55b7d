"""What the block page's requests cost: the engine's hooks per packet, and the page itself.

The engine gained two checks on its hot path for issue 13: the page's own
name (a DNS question for ``blocked.copgate.lan`` is answered with the page's
address) and the administrator's grants (applied after ``decide``). This
runs bench_engine.py's DNS allow and DNS block cases (2,000 packets, each a
new flow from the teen client, lab config and lists) twice in one run,
alternating batches: with both hooks off (no page name, no grants: the
engine before issue 13, but for two ``is None`` tests) and with both on
(the page name set, and 500 grants for the teens, none of which matches the
names judged, so every decision still takes the path it took before). The
ratio on / off is the hooks' cost.

It also times the block page app itself (``BlockPageApp.handle``): rendering
the block page for a blocked name, "recently blocked" with 50 rows, and a
posted form stored durably (its fsyncs included, on this machine's disk: a
router's flash is slower).

    .venv/bin/python benchmarks/bench_requests.py --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_engine import (  # noqa: E402  (this script's directory is on sys.path)
    BATCH,
    IFACE,
    NAMES,
    NOW,
    Case,
    cases,
    check_engine,
    forget_names,
    lab_config,
    new_engine,
)

from copgate.daemon.engine import PacketMeta, PacketVerdict  # noqa: E402
from copgate.http1.request import Request, read_request  # noqa: E402
from copgate.lists.listset import ListSet  # noqa: E402
from copgate.policy.grants import Grant, Grants  # noqa: E402
from copgate.policy.model import Config  # noqa: E402
from copgate.requests.app import BlockPageApp  # noqa: E402
from copgate.requests.csrf import CsrfKey  # noqa: E402
from copgate.requests.i18n import Catalogue  # noqa: E402
from copgate.requests.page import Recent  # noqa: E402
from copgate.requests.ratelimit import RateLimit  # noqa: E402
from copgate.requests.store import Store  # noqa: E402

GRANTS = Grants(Grant(f"granted{n}.example", "teens", None) for n in range(500))
PAGE_NAME = "blocked.copgate.lan"
APP_ROUNDS = 200
CLIENT = "192.0.2.11"


def engine_run(
    case: Case, config: Config, lists: ListSet, hooks: bool
) -> Callable[[], list[PacketVerdict]]:
    forget_names()
    for group in config.groups:
        group.memo.clear()
    engine = new_engine(config, lists)
    if hooks:
        engine.page_name = PAGE_NAME
        engine.grants = GRANTS
    judge, meta, packets = engine.judge, PacketMeta(NOW, IFACE), case.packets
    return lambda: [judge(datagram, meta) for datagram in packets]


def per_packet(run: Callable[[], list[PacketVerdict]], case: Case) -> float:
    start = time.perf_counter()
    verdicts = run()
    seconds = (time.perf_counter() - start) / BATCH
    check_engine(case, verdicts)
    return seconds


def hooks(config: Config, lists: ListSet, repeats: int) -> None:
    print(f"{'case':12} {'off µs':>8} {'on µs':>8} {'on/off':>7}")
    for case in cases(config, lists, NAMES):
        if case.title not in ("dns allow", "dns block"):
            continue
        off, on = [], []
        for _ in range(repeats):
            off.append(per_packet(engine_run(case, config, lists, False), case))
            on.append(per_packet(engine_run(case, config, lists, True), case))
        off_us, on_us = statistics.median(off) * 1e6, statistics.median(on) * 1e6
        print(f"{case.title:12} {off_us:8.2f} {on_us:8.2f} {on_us / off_us:7.3f}")


def _request(head: str) -> Request:
    request = read_request(head.encode())
    assert request is not None
    return request


def app(workdir: Path, repeats: int) -> None:
    rows = [Recent(NOW - n, f"site{n}.example", "category", "adult") for n in range(50)]
    key = CsrfKey(b"b" * 32)
    page = BlockPageApp(
        Catalogue.load(),
        Store(workdir / "reports"),
        key=key,
        limit=RateLimit(rate=1e9, burst=10**9),
        recent=lambda client: rows,
    )
    blocked = _request(
        "GET /blocked?host=casino.example&why=gambling&group=teens&cat=gambling&list=default "
        "HTTP/1.1\r\nHost: 192.0.2.1:8099\r\nAccept-Language: ru-RU,ru;q=0.9,en;q=0.8\r\n\r\n"
    )
    recent = _request("GET /recent HTTP/1.1\r\nHost: blocked.copgate.lan:8099\r\n\r\n")
    body = urlencode(
        {"csrf": key.token(CLIENT, NOW), "kind": "mistake", "name": "casino.example"}
    ).encode()
    posted = _request(
        "POST /request HTTP/1.1\r\nHost: 192.0.2.1:8099\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    print(f"{'page':24} {'µs per request':>15} {'bytes':>7}")
    for title, request, data, rounds in (
        ("GET /blocked (ru)", blocked, b"", APP_ROUNDS),
        ("GET /recent (50 rows)", recent, b"", APP_ROUNDS),
        ("POST /request (stored)", posted, body, 20),
    ):
        times = []
        size = 0
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(rounds):
                size = len(page.handle(request, data, CLIENT, NOW))
            times.append((time.perf_counter() - start) / rounds)
        print(f"{title:24} {statistics.median(times) * 1e6:15.1f} {size:7d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    if not NAMES.is_file():
        raise SystemExit(f"{NAMES} is absent: the benchmark reads the shared top50k names")
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as workdir:
        config, lists = lab_config(Path(workdir))
        try:
            hooks(config, lists, args.repeats)
            print(f"median of {args.repeats} batches of {BATCH} packets, hooks off and on in turn")
            app(Path(workdir), args.repeats)
        finally:
            lists.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
