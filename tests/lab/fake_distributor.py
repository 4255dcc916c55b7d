"""A fake distributor's report intake in a lab namespace (``python -m tests.lab.fake_distributor``).

Listens on ``--address`` and ``--port``; answers the first ``--fail`` posts
with 503 and the rest with 202 (409 for an idempotency key it has seen, as
``docs/reports.md`` asks of the real one). Every post it took is appended
to ``--out`` as one JSON line ``{"status": ..., "key": ..., "body": ...}``,
so the test reads exactly what arrived and how it was answered. Prints
``ready`` once listening.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer


class Intake(HTTPServer):
    def __init__(self, address: tuple[str, int], out: str, fail: int) -> None:
        super().__init__(address, Handler)
        self.out = out
        self.fail = fail
        self.keys: set[str] = set()


class Handler(BaseHTTPRequestHandler):
    server: Intake

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key") or ""
        if self.server.fail > 0:
            self.server.fail -= 1
            status = 503
        else:
            status = 409 if key in self.server.keys else 202
            self.server.keys.add(key)
        line = {
            "status": status,
            "key": key,
            "authorization": self.headers.get("Authorization"),
            "body": json.loads(body or b"null"),
        }
        with open(self.server.out, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail", type=int, default=0)
    args = parser.parse_args(argv)
    server = Intake((args.address, args.port), args.out, args.fail)
    print("ready", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
