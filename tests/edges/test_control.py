"""copgate.edges.control: the socket is private, checks who connects, and outlives bad clients."""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.daemon.control import Params
from copgate.edges.control import ControlServer, ask, peer_uid
from copgate.errors import ControlProtocolError, ControlSocketError, DaemonUnreachableError

ME = frozenset({os.geteuid()})


def _echo(params: Params) -> object:
    return {"echo": dict(params)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    control = ControlServer(
        tmp_path / "run" / "control.sock", {"echo": _echo}, allowed_uids=ME, timeout=0.3
    )
    control.start()
    try:
        yield control
    finally:
        control.close()


def test_a_request_is_answered(server: ControlServer) -> None:
    assert ask(server.path, "echo", {"a": 1}) == {"echo": {"a": 1}}
    assert ask(server.path, "echo") == {"echo": {}}
    assert server.served == 2


def test_the_socket_is_0600_in_a_0700_directory(server: ControlServer) -> None:
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(server.path.stat().st_mode)
    assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700


def test_the_peer_uid_is_read_from_the_kernel() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer_uid(left) == os.geteuid()


def test_a_client_of_another_uid_is_refused(tmp_path: Path) -> None:
    control = ControlServer(tmp_path / "control.sock", {"echo": _echo}, allowed_uids=frozenset())
    control.start()
    try:
        with pytest.raises(ControlProtocolError, match="permission denied: root only"):
            ask(control.path, "echo")
        assert (control.served, control.refused) == (0, 1)
    finally:
        control.close()


def test_an_unknown_command_is_refused_and_the_server_goes_on(server: ControlServer) -> None:
    with pytest.raises(ControlProtocolError, match="unknown command 'nope'"):
        ask(server.path, "nope")
    assert ask(server.path, "echo") == {"echo": {}}


def test_a_client_that_sends_nothing_is_dropped_after_the_timeout(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(server.path))
        started = time.monotonic()
        assert ask(server.path, "echo", timeout=5.0) == {"echo": {}}
        waited = time.monotonic() - started
    assert 0.2 < waited < 3.0  # the idle one held the answerer for its timeout, no longer


def test_an_oversized_request_is_refused(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5.0)
        conn.connect(str(server.path))
        conn.sendall(b'{"command": "echo", "x": "' + b"a" * 10_000 + b'"}\n')
        reply = conn.recv(65536)
    assert b'"ok":false' in reply and b"over 4096" in reply
    assert ask(server.path, "echo") == {"echo": {}}


def test_nobody_listening_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DaemonUnreachableError, match="is it running"):
        ask(tmp_path / "none.sock", "status")


def test_a_stale_socket_is_replaced_and_removed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    control = ControlServer(path, {"echo": _echo}, allowed_uids=ME)
    control.start()
    assert ask(path, "echo") == {"echo": {}}
    control.close()
    assert not path.exists()


def test_a_file_at_the_path_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    path.write_text("mine")
    with pytest.raises(ControlSocketError, match="is not a socket"):
        ControlServer(path, {}, allowed_uids=ME)
    assert path.read_text() == "mine"


def test_a_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ControlSocketError, match="writable by others"):
        ControlServer(shared / "control.sock", {}, allowed_uids=ME)


def test_a_live_socket_of_another_daemon_is_left_alone(server: ControlServer) -> None:
    with pytest.raises(ControlSocketError, match="in use by a running process"):
        ControlServer(server.path, {}, allowed_uids=ME)
    assert ask(server.path, "echo") == {"echo": {}}


def test_a_directory_made_for_the_socket_is_removed_on_close(tmp_path: Path) -> None:
    control = ControlServer(tmp_path / "a" / "b" / "control.sock", {}, allowed_uids=ME)
    control.close()
    assert not (tmp_path / "a" / "b").exists()
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o700)
    ControlServer(kept / "control.sock", {}, allowed_uids=ME).close()
    assert kept.is_dir() and not (kept / "control.sock").exists()
