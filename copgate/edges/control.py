"""The control socket: a UNIX stream socket only root can open, served by its own thread.

``ControlServer`` binds ``PATH`` (``/var/run/copgate/control.sock``) in a
directory it makes mode 0700, makes the socket mode 0600, and checks every
peer's credentials (``SO_PEERCRED``): a process whose uid is not allowed
(root only, unless a test says otherwise) gets an error and nothing else.
Requests are answered one at a time by a thread beside the packet loop, so
a slow client can delay another client, never a packet; each connection
has ``TIMEOUT`` seconds to send its request and take its reply.

``ask`` is the client's half (``copgate status``, ``log``, ``stats``).

What a request means is ``copgate.daemon.control``'s; this module only moves
bytes and checks who sends them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from copgate.daemon.control import (
    MAX_REPLY,
    MAX_REQUEST,
    Handler,
    Params,
    answer,
    encode_request,
    read_reply,
)
from copgate.edges.listener import OneAtATime
from copgate.errors import ControlSocketError, DaemonUnreachableError

LOG = logging.getLogger("copgate")
PATH = Path("/var/run/copgate/control.sock")
"""Where the daemon listens unless told otherwise (``copgate run --control``)."""
TIMEOUT = 2.0
"""Seconds a connection may take to send its request and read its reply."""
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid (socket(7), SO_PEERCRED)


class ControlServer(OneAtATime):
    """The listening socket and the thread that answers it."""

    def __init__(
        self,
        path: Path,
        handlers: Mapping[str, Handler],
        *,
        allowed_uids: frozenset[int] = frozenset({0}),
        timeout: float = TIMEOUT,
    ) -> None:
        self.path = path
        self.handlers = dict(handlers)
        """Command -> handler; the daemon may add commands before ``start``."""
        self.allowed_uids = allowed_uids
        self.served = 0
        self.refused = 0
        self._made_dir = _private_dir(path.parent)
        super().__init__(_listen(path), "control", timeout)

    def close(self) -> None:
        """Stop answering, close and remove the socket."""
        super().close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._made_dir:
            with contextlib.suppress(OSError):  # not empty: someone else's files stay
                self.path.parent.rmdir()

    def wake(self) -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.connect(str(self.path))

    def handle(self, conn: socket.socket) -> None:
        self._converse(conn)

    def _converse(self, conn: socket.socket) -> None:
        uid = peer_uid(conn)
        if uid not in self.allowed_uids:
            self.refused += 1
            LOG.warning("control: refused a client with uid %d", uid)
            conn.sendall(b'{"ok":false,"error":"permission denied: root only"}\n')
            return
        request = _read_line(conn, MAX_REQUEST + 1)
        self.served += 1
        conn.sendall(answer(self.handlers, request))


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a UNIX socket (``SO_PEERCRED``)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return int(uid)


def ask(path: Path, command: str, params: Params | None = None, timeout: float = 10.0) -> object:
    """Send one request to the daemon at ``path`` and return its result.

    ``DaemonUnreachableError`` when nobody listens there (or we may not
    connect); ``ControlProtocolError`` when the daemon refuses the request.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonUnreachableError(
                f"no copgate daemon answers on {path} ({exc.strerror}): is it running?"
            ) from None
        except PermissionError:
            raise DaemonUnreachableError(f"{path}: permission denied (run as root)") from None
        try:
            conn.sendall(encode_request(command, params))
            conn.shutdown(socket.SHUT_WR)
            reply = _read_line(conn, MAX_REPLY)
        except TimeoutError:
            raise DaemonUnreachableError(
                f"the daemon on {path} did not answer within {timeout:g} s"
            ) from None
    return read_reply(reply)


def _read_line(conn: socket.socket, limit: int) -> bytes:
    """Bytes up to a newline or the end, at most ``limit`` (more is cut: the parser says so)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = conn.recv(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def _listen(path: Path) -> socket.socket:
    """A socket bound at ``path`` with mode 0600, in a directory only its owner may enter.

    A socket left there by a daemon that died is replaced; one that still
    answers belongs to a daemon that runs, and is left alone (an error);
    anything else at the path is refused rather than removed.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ControlSocketError(f"{path} exists and is not a socket: not replacing it")
        if _answers(path):
            raise ControlSocketError(f"{path} is in use by a running process: not replacing it")
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never a moment with a wider mode than 0600
    try:
        listener.bind(str(path))
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(8)
    return listener


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _private_dir(directory: Path) -> bool:
    """Make ``directory`` (mode 0700) or check that one that exists is ours and closed to
    others; True when it was made here (``close`` then removes it)."""
    made = not directory.exists()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.geteuid():
        raise ControlSocketError(
            f"{directory} belongs to uid {info.st_uid}, not to us: "
            "not putting the control socket there"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ControlSocketError(
            f"{directory} is writable by others (mode {stat.S_IMODE(info.st_mode):o}): "
            "not putting the control socket there"
        )
    return made
