"""copgate.cli: each command loads only its own module, so the daemon stays small.

Measured before: ``copgate run`` imported every subcommand, and with them
``copgate.lab``, ``cryptography.x509`` and scapy, into the router's daemon.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from copgate.cli import COMMANDS, build_parser

NOT_IN_THE_DAEMON = (
    "copgate.lab",
    "copgate.tools.demo_cmd",
    "copgate.tools.inspect_cmd",
    "copgate.tools.lists_cmd",
    "copgate.tools.policy_cmd",
    "copgate.tools.firewall_cmd",
    "cryptography",  # about 7 MB; imported at the first QUIC Initial (copgate.wire.quic_keys)
    "scapy",
    "hypothesis",
)

PROBE = """
import sys
from copgate.cli import build_parser
args = build_parser(["run", "--config", "x"]).parse_args(["run", "--config", "x"])
import copgate.daemon.run  # what args.func imports before it starts the daemon
print("\\n".join(sorted(sys.modules)))
"""


def test_copgate_run_loads_neither_the_lab_nor_x509_nor_scapy() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "copgate.tools.run_cmd" in loaded and "copgate.daemon.run" in loaded
    for module in NOT_IN_THE_DAEMON:
        assert not [m for m in loaded if m == module or m.startswith(module + ".")], module


def test_run_help_works_without_the_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser(["run", "--help"]).parse_args(["run", "--help"])
    assert done.value.code == 0
    assert "--config FILE" in capsys.readouterr().out


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(["--help"]).parse_args(["--help"])
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out, command


def test_each_command_is_registered_by_the_module_named_for_it() -> None:
    for command in COMMANDS:
        parser = build_parser([command])
        subparsers = next(a for a in parser._actions if a.dest == "command")
        assert command in subparsers.choices, command  # type: ignore[operator]
