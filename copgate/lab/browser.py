"""Headless Chromium driven through chromedriver, run inside a lab namespace.

The WebDriver endpoint chromedriver opens is on 127.0.0.1 of the namespace
it runs in, out of reach of the test process, so this module runs there as a
whole (``python -m copgate.lab.browser URL ...``): it starts Debian's
``chromedriver``, opens one page in Debian's ``chromium``, prints one JSON
object (title, body text, or the navigation error such as
``net::ERR_CONNECTION_RESET``) and stops both. It speaks the W3C WebDriver
protocol with the standard library, so no selenium is needed, and it never
downloads a browser or a driver.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DRIVER_START = 10.0
"""Seconds chromedriver gets to listen."""
BODY_TEXT = "return document.body ? document.body.innerText : ''"
PORTS = (20000, 60000)
"""Range a driver port is drawn from (the namespace is the test's own)."""

BASE_ARGS = (
    "--headless=new",
    "--no-sandbox",  # root inside a namespace: the sandbox cannot start
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    # The lab is closed: without these Chromium keeps calling home and
    # fills the logs with refused connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--dns-prefetch-disable",
)


class WebDriverError(Exception):
    """chromedriver answered with an error."""


def _call(base: str, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)["value"]
    except urllib.error.HTTPError as exc:
        value = json.load(exc).get("value", {})
        raise WebDriverError(value.get("message", str(exc))) from exc


@contextlib.contextmanager
def _driver(log: str) -> Iterator[str]:
    port = random.randint(*PORTS)
    with open(log, "ab") as sink:
        process = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}"], stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DRIVER_START
        while True:
            try:
                if _call(base, "GET", "/status", timeout=1.0).get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(url: str, chromium_args: Sequence[str], timeout: float, log: str) -> dict[str, Any]:
    """Open ``url`` once; what the page showed or why it did not load."""
    profile = tempfile.mkdtemp(prefix="copgate-chromium-")
    args = [*BASE_ARGS, f"--user-data-dir={profile}", *chromium_args]
    capabilities = {
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": int(timeout * 1000)},
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }
        }
    }
    result: dict[str, Any] = {"url": url, "title": None, "text": None, "error": None}
    try:
        with _driver(log) as base:
            session = _call(base, "POST", "/session", capabilities)["sessionId"]
            try:
                try:
                    _call(base, "POST", f"/session/{session}/url", {"url": url})
                except WebDriverError as exc:
                    result["error"] = str(exc)
                result["title"] = _call(base, "GET", f"/session/{session}/title")
                script = {
                    "script": "return document.body ? document.body.innerText : ''",
                    "args": [],
                }
                result["text"] = _call(base, "POST", f"/session/{session}/execute/sync", script)
            finally:
                _call(base, "DELETE", f"/session/{session}")
    except (WebDriverError, OSError) as exc:
        result["error"] = result["error"] or f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copgate.lab.browser", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--arg", action="append", default=[], help="extra Chromium switch")
    parser.add_argument("--timeout", type=float, default=10.0, help="page load seconds")
    parser.add_argument("--driver-log", default="/dev/null")
    args = parser.parse_args(argv)
    result = load(args.url, args.arg, args.timeout, args.driver_log)
    print(json.dumps(result))
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
