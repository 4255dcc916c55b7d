"""Headless Chromium following a script of steps in one session: for the block page's tests.

``copgate.lab.browser`` opens one page and reads its text; the block page's
tests need more of one browser session: read elements of the DOM, fill a
form and submit it (its CSRF token is bound to this client), keep a
screenshot. It runs inside a lab namespace as ``python -m
copgate.lab.pagebrowser STEPS_JSON [--arg SWITCH]...`` and prints one JSON
list, a result per step:

- ``{"go": URL}`` -> ``{"url": final URL, "error": navigation error or None}``
- ``{"text": CSS}`` -> the element's innerText (None if there is none)
- ``{"count": CSS}`` -> how many elements match
- ``{"fill": CSS, "value": TEXT}``, ``{"click": CSS}`` -> None (or an error)
- ``{"wait": CSS}`` -> whether an element matched within ``WAIT`` seconds
- ``{"screenshot": PATH}`` -> PATH, the page saved there as PNG

Same driver and switches as ``copgate.lab.browser``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from copgate.lab.browser import BASE_ARGS, CHROMIUM, WebDriverError, _call, _driver

WAIT = 10.0
"""Seconds a ``wait`` step waits for its element."""
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
"""W3C WebDriver's key of an element reference."""
Step = dict[str, str]


def run_steps(steps: Sequence[Step], chromium_args: Sequence[str], timeout: float) -> list[Any]:
    profile = tempfile.mkdtemp(prefix="copgate-chromium-")
    args = [*BASE_ARGS, f"--user-data-dir={profile}", *chromium_args]
    capabilities = {
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": int(timeout * 1000), "implicit": 0},
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }
        }
    }
    results: list[Any] = []
    try:
        with _driver("/dev/null") as base:
            session = _call(base, "POST", "/session", capabilities)["sessionId"]
            try:
                for step in steps:
                    results.append(_step(f"{base}/session/{session}", step))
            finally:
                _call(base, "DELETE", f"/session/{session}")
    except (WebDriverError, OSError) as exc:
        results.append({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return results


def _step(session: str, step: Step) -> Any:
    (action,) = [key for key in step if key != "value"]
    handler = STEPS[action]
    try:
        return handler(session, step)
    except WebDriverError as exc:
        return {"error": str(exc)}


def _go(session: str, step: Step) -> Any:
    error = None
    try:
        _call(session, "POST", "/url", {"url": step["go"]})
    except WebDriverError as exc:
        error = str(exc)
    return {"url": _call(session, "GET", "/url"), "error": error}


def _script(session: str, script: str, *args: object) -> Any:
    return _call(session, "POST", "/execute/sync", {"script": script, "args": list(args)})


def _text(session: str, step: Step) -> Any:
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;"
    return _script(session, script, step["text"])


def _count(session: str, step: Step) -> Any:
    return _script(session, "return document.querySelectorAll(arguments[0]).length;", step["count"])


def _wait(session: str, step: Step) -> Any:
    """Until an element matches (a click's navigation may finish after the click returns)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if _script(session, "return document.querySelector(arguments[0]) !== null;", step["wait"]):
            return True
        time.sleep(0.05)
    return False


def _element(session: str, css: str) -> str:
    found = _call(session, "POST", "/element", {"using": "css selector", "value": css})
    if not isinstance(found, dict) or ELEMENT not in found:
        raise WebDriverError(f"no element {css!r}: {found!r}")
    return str(found[ELEMENT])


def _fill(session: str, step: Step) -> Any:
    element = _element(session, step["fill"])
    return _call(session, "POST", f"/element/{element}/value", {"text": step["value"]})


def _click(session: str, step: Step) -> Any:
    element = _element(session, step["click"])
    return _call(session, "POST", f"/element/{element}/click", {})


def _screenshot(session: str, step: Step) -> Any:
    path = Path(step["screenshot"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(_call(session, "GET", "/screenshot")))
    return str(path)


STEPS: dict[str, Callable[[str, Step], Any]] = {
    "go": _go,
    "text": _text,
    "count": _count,
    "fill": _fill,
    "click": _click,
    "wait": _wait,
    "screenshot": _screenshot,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copgate.lab.pagebrowser", description=__doc__)
    parser.add_argument("steps", help="the steps, a JSON list")
    parser.add_argument("--arg", action="append", default=[], help="extra Chromium switch")
    parser.add_argument("--timeout", type=float, default=10.0, help="page load seconds")
    args = parser.parse_args(argv)
    print(json.dumps(run_steps(json.loads(args.steps), args.arg, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
