"""copgate run: what the daemon's process imports only when it is used (issue 10, memory).

Each module here was loaded at start and cost resident memory for a path a
running gateway rarely or never takes; each is now imported where it is
used. The probe does what ``copgate run`` does before its daemon binds the
queues (the CLI, the log target, the daemon's modules, loading a TOML
config, the block page's requests edge) and lists what is loaded; the last
test proves the rare paths still work, and load their modules then.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

PROBE = """
import sys
from pathlib import Path
from copgate.cli import main
status = main(["run", "--config", "/nonexistent/copgate.toml", "--log-target", "stderr"])
import copgate.daemon.run
from copgate.config.load import load_config
config = load_config(Path("examples/copgate.toml"))
import dataclasses, tempfile
from copgate.daemon.ring import DecisionRing
from copgate.edges.requests_edge import RequestsEdge, recent_from_ring
from copgate.policy.tz import parse_tz
with tempfile.TemporaryDirectory() as reports:  # the daemon's requests edge, as at start
    settings = dataclasses.replace(config.settings, reports_dir=reports)
    edge = RequestsEdge(dataclasses.replace(config, settings=settings), lambda client: None,
                        parse_tz("UTC0"), recent_from_ring(DecisionRing()))
    edge.counters()
    edge.close()
print(status, len(config.groups))
print(" ".join(sorted(sys.modules)))
"""

LAZY = {
    "difflib": "a config's 'did you mean' (copgate.config.document), on an error only",
    "html": "the block page's escaping (copgate.forge.blockpage, copgate.requests.page)",
    "html.entities": "brought by html: the HTML5 entity table",
    "copgate.config.uci": "the UCI reader, for a UCI config only (this one is TOML)",
    "copgate.requests.forward": "the report forwarder, with reports_url only",
    "logging.handlers": "the syslog handler, for the syslog target only",
    "pickle": "brought by logging.handlers",
    "copgate.requests.app": "the block page's app, built at its first request",
    "copgate.requests.page": "the page's HTML, with the app",
    "copgate.requests.i18n": "the page's message catalogues, with the app",
    "copgate.requests.csrf": "the forms' CSRF key, with the app",
}


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    lines = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    ).stdout.splitlines()
    status, groups = lines[0].split()
    assert status == "2" and int(groups) > 0  # the missing config refused; the example loads
    return set(lines[1].split())


def test_the_probe_loads_what_copgate_run_loads(loaded: set[str]) -> None:
    for module in ("copgate.daemon.run", "copgate.edges.logtarget", "copgate.config.tomlfile"):
        assert module in loaded, module


@pytest.mark.parametrize("module", sorted(LAZY))
def test_a_module_for_a_rare_path_is_not_loaded_at_start(loaded: set[str], module: str) -> None:
    assert module not in loaded, LAZY[module]


USED = """
import sys
from copgate.config.document import did_you_mean
from copgate.forge.blockpage import page_response
from copgate.config.load import parse_text
print(did_you_mean("gruop", ["group", "general"]))
print(b"&lt;b&gt;" in page_response("<b>", "adult"))
print(parse_text("config general\\n", "x.uci", "uci").sections[0].kind)
print(all(m in sys.modules for m in ("difflib", "html", "copgate.config.uci")))
"""


def test_the_rare_paths_import_what_they_need_when_taken() -> None:
    lines = subprocess.run(
        [sys.executable, "-c", USED], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines == [" (did you mean 'group'?)", "True", "general", "True"]
