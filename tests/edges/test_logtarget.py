"""copgate.edges.logtarget: syslog when a syslog daemon listens and nobody reads stderr."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.edges.logtarget import Target, configure


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[tuple[Path, socket.socket]]:
    path = tmp_path / "log"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5.0)
    try:
        yield path, server
    finally:
        server.close()


def _pipe_stream() -> Iterator[io.TextIOWrapper]:
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as stream:
        yield stream


def test_syslog_gets_the_line_with_ident_level_and_facility(
    syslog: tuple[Path, socket.socket],
) -> None:
    path, server = syslog
    assert configure(Target.SYSLOG, logging.INFO, socket_path=path) is Target.SYSLOG
    logging.getLogger("copgate").warning("reload refused: %s", "bad line")
    message = server.recv(4096).decode()
    # <28>: facility daemon (3) * 8 + warning (4), RFC 5424 §6.2.1
    assert message == f"<28>copgate[{os.getpid()}]: WARNING reload refused: bad line\x00"


def test_auto_picks_syslog_when_stderr_is_a_pipe(syslog: tuple[Path, socket.socket]) -> None:
    path, _server = syslog
    for stream in _pipe_stream():
        assert (
            configure(Target.AUTO, logging.INFO, socket_path=path, stream=stream) is Target.SYSLOG
        )


def test_auto_keeps_stderr_when_it_is_a_file(
    syslog: tuple[Path, socket.socket], tmp_path: Path
) -> None:
    path, _server = syslog
    with (tmp_path / "daemon.log").open("w") as stream:
        assert (
            configure(Target.AUTO, logging.INFO, socket_path=path, stream=stream) is Target.STDERR
        )
        logging.getLogger("copgate").info("copgate running")
    line = (tmp_path / "daemon.log").read_text()
    assert line.endswith(" copgate INFO copgate running\n")


def test_auto_keeps_stderr_without_a_syslog_socket(tmp_path: Path) -> None:
    for stream in _pipe_stream():
        chosen = configure(Target.AUTO, logging.INFO, socket_path=tmp_path / "none", stream=stream)
        assert chosen is Target.STDERR


def test_debug_lines_pass_only_at_debug_level(syslog: tuple[Path, socket.socket]) -> None:
    path, server = syslog
    configure(Target.SYSLOG, logging.INFO, socket_path=path)
    logging.getLogger("copgate").debug("not sent")
    logging.getLogger("copgate").error("sent")
    assert server.recv(4096).decode().endswith("ERROR sent\x00")  # <27>: the debug line never came
