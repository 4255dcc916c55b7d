"""What the block page's lab tests share: a daemon with extra general options, a
scripted Chromium session on a LAN client, the forms over curl, the admin's commands.

The lab's config (``copgate.lab.gateway``) keeps requests and reports in the
lab's work directory; ``running_with`` adds ``[general]`` options (a report
intake's URL) that ``running_copgate``'s appended text cannot, since TOML
cannot reopen ``[general]``.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from copgate.lab import clients, plan
from copgate.lab.gateway import compile_lab_lists, start_copgate, write_config
from copgate.lab.processes import python_env, run
from copgate.lab.topology import Client, Lab
from tests.lab.daemon_lab import Gateway

ROUTER = str(plan.LAN.router_v4)
PAGE = f"http://{ROUTER}:8099"
PAGE_NAME = "blocked.copgate.lan"
BROWSER_TIMEOUT = 60.0


def config_with(lab: Lab, general: str = "") -> Path:
    """The lab's config, with ``general`` (TOML lines) added to its ``[general]``."""
    lists = compile_lab_lists(lab.workdir)
    path = write_config(lab.workdir, lists)
    text = path.read_text()
    path.write_text(text.replace("[general]\n", f"[general]\n{general}", 1))
    return path


@contextlib.contextmanager
def running_with(lab: Lab, config: Path) -> Iterator[Gateway]:
    """copgate on ``config``; stopped (and its exit status checked) on leaving."""
    daemon = start_copgate(lab, config)
    gateway = Gateway(lab, daemon, compile_lab_lists(lab.workdir), config)
    try:
        yield gateway
    finally:
        if daemon.alive():
            status = lab.stop(daemon)
            if status != 0:
                raise AssertionError(f"copgate exited with {status}:\n{daemon.log_text()[-3000:]}")


def browse(
    client: Client,
    steps: Sequence[dict[str, str]],
    *,
    hosts: Sequence[str] = (),
    args: Sequence[str] = (),
) -> list[Any]:
    """Run ``steps`` in one Chromium session on ``client`` (``copgate.lab.pagebrowser``).

    Each name of ``hosts`` is mapped to its lab address (no DNS), the page's
    own name to the router's address (what the gateway's DNS answers for it).
    """
    rules = [f"MAP {name} {plan.host(name).v4}" for name in hosts]
    rules.append(f"MAP {PAGE_NAME} {ROUTER}")
    switches = [f"--host-resolver-rules={', '.join(rules)}", "--disable-quic", *args]
    argv = [sys.executable, "-m", "copgate.lab.pagebrowser", json.dumps(list(steps))]
    argv += [f"--arg={switch}" for switch in switches]
    result = run(client.netns, argv, timeout=BROWSER_TIMEOUT, env=python_env())
    try:
        results: list[Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the browser printed no results: {result.stderr[-2000:]}") from exc
    return results


def token(client: Client) -> str:
    """A CSRF token the block page gave ``client``, read from its form."""
    page = clients.curl(client, f"{PAGE}/blocked?host=x.example&why=games")
    found = re.search(r'name="csrf" value="([^"]+)"', page.body)
    assert found is not None, page
    return html.unescape(found[1])


def post(client: Client, fields: dict[str, str]) -> int | None:
    """POST the form ``fields`` from ``client``; the status."""
    extra: list[str] = []
    for key, value in fields.items():
        extra += ["--data-urlencode", f"{key}={value}"]
    return clients.curl(client, f"{PAGE}/request", extra=extra).status


def copgate(*argv: str) -> subprocess.CompletedProcess[str]:
    """A copgate command as the admin runs it on the router (no namespace needed: files)."""
    return subprocess.run(
        [sys.executable, "-m", "copgate", *argv],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=30,
        check=False,
    )
