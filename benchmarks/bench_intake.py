"""What the distributor's report intake costs, over real HTTP, against the server's floor.

One run starts two servers on loopback, both waitress with the same number
of threads (``copgate dist run``'s server):

- the service (``copgate dist run``, SQLite in a temporary data directory,
  migrated), taking reports from 20 gateways (each report a new key, as
  docs/reports.md's format, 4 client threads on keep-alive connections);
  then the same reports again (every key taken before: the 409 path);
- the floor: a bare WSGI app in the same waitress that reads the body and
  answers ``202 {}`` (what any intake behind this server pays at least).

It prints reports per second and the median and 95th percentile latency of
each, and the ratios to the floor. Django's request handling, the token
lookup, the rate-limit counter (two cache queries) and the insert are what
the ratio measures.

    .venv/bin/python benchmarks/bench_intake.py --reports 2000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATEWAYS = 20
THREADS = 4
SETUP = """
import json, django
django.setup()
from copgate.distributor.curation.gateways import issue_token
print(json.dumps([issue_token(None, f"bench-{i}")[1] for i in range({count})]))
"""


def floor_app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    """The floor: read the body, answer 202 ``{}``."""
    stream = environ["wsgi.input"]
    stream.read(int(str(environ.get("CONTENT_LENGTH") or 0)))  # type: ignore[attr-defined]
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("server did not listen")


def body(key: str) -> bytes:
    return json.dumps(
        {
            "version": 1,
            "key": key,
            "kind": "mistake",
            "name": f"site-{key[:8]}.example",
            "created": "2026-12-06T00:12:39Z",
            "group": "pupils",
            "category": "games",
            "list": "default",
            "reason": "category",
            "comment": "we use it in maths lessons",
        }
    ).encode()


def post_all(port: int, jobs: list[tuple[str, str]]) -> tuple[float, list[float], set[int]]:
    """(seconds, latencies, statuses) of posting ``jobs`` (token, key) from THREADS threads."""
    latencies: list[float] = []
    statuses: set[int] = set()
    lock = threading.Lock()

    def worker(part: Iterable[tuple[str, str]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        seen: set[int] = set()
        for token, key in part:
            headers = {"Content-Type": "application/json", "Idempotency-Key": key}
            headers["Authorization"] = f"Bearer {token}"
            start = time.perf_counter()
            connection.request("POST", "/api/v1/reports", body(key), headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            seen.add(response.status)
        connection.close()
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    threads = [threading.Thread(target=worker, args=(jobs[i::THREADS],)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, statuses


def row(label: str, count: int, seconds: float, latencies: list[float]) -> tuple[float, float]:
    rate = count / seconds
    ordered = sorted(latencies)
    median = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    print(f"| {label} | {rate:,.0f} | {median:.2f} | {p95:.2f} |")
    return rate, median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}",
            "COPGATE_DATA_DIR": str(Path(tmp) / "data"),
            "COPGATE_SECRET_KEY": secrets.token_hex(32),
            "DJANGO_SETTINGS_MODULE": "copgate.distributor.settings",
        }
        python = sys.executable
        subprocess.run([python, "-m", "copgate", "dist", "migrate"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        setup = SETUP.replace("{count}", str(GATEWAYS))
        made = subprocess.run([python, "-c", setup], env=env, check=True, capture_output=True)
        tokens: list[str] = json.loads(made.stdout)
        service_port, floor_port = free_port(), free_port()
        service = subprocess.Popen(
            [python, "-m", "copgate", "dist", "run", "--port", str(service_port),
             "--threads", str(THREADS)], env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        floor = subprocess.Popen(
            [python, "-m", "waitress", f"--listen=127.0.0.1:{floor_port}",
             f"--threads={THREADS}", "bench_intake:floor_app"], env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_listening(service_port, service)
            wait_listening(floor_port, floor)
            jobs = [(tokens[i % GATEWAYS], secrets.token_hex(16)) for i in range(args.reports)]
            post_all(floor_port, jobs[:100])  # warm both up
            base_s, base_l, _ = post_all(floor_port, jobs)
            stored_s, stored_l, stored = post_all(service_port, jobs)
            again_s, again_l, again = post_all(service_port, jobs)
        finally:
            for process in (service, floor):
                process.terminate()
                process.wait(10)
    assert stored == {202} and again == {409}, (stored, again)
    print(f"{args.reports} reports, {GATEWAYS} gateways, {THREADS} client threads, keep-alive\n")
    print("| case | reports/s | median ms | p95 ms |\n|---|---:|---:|---:|")
    base_rate, base_median = row("floor: bare WSGI app, 202 {}", args.reports, base_s, base_l)
    rate, median = row("intake: stored (202)", args.reports, stored_s, stored_l)
    dup_rate, _ = row("intake: key seen before (409)", args.reports, again_s, again_l)
    print(f"\nstored: {base_rate / rate:.1f}x the floor's time per report", end=" ")
    print(f"(median {median / base_median:.1f}x); duplicate: {base_rate / dup_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
