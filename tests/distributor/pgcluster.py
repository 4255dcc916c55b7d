"""A throw-away PostgreSQL cluster for the distributor's tests.

The cluster lives in a temporary directory, runs as an unprivileged user
(``nobody`` when the tests run as root: PostgreSQL refuses to run as root),
listens on a Unix socket in that directory only (no TCP, so no port can
clash with anything on the host) and is stopped and removed at the end.
Debian's ``postgresql`` package provides the binaries; nothing is
downloaded.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "copgate"
PORT = 5432
"""Names the socket file (.s.PGSQL.5432) in the cluster's own directory only."""
START_TIMEOUT = 60
UNPRIVILEGED = "nobody"
# Durability buys nothing in a test cluster that is removed at the end.
SERVER_OPTIONS = (
    "-c listen_addresses='' -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB"
)


class ClusterError(Exception):
    """The test cluster could not be made or started."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` holding initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


@dataclass
class Cluster:
    """A running cluster: its directory, socket directory and superuser."""

    root: Path
    bindir: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def database(self, name: str = "copgate") -> dict[str, object]:
        """Django's settings for a database of this cluster."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": SUPERUSER,
            "PASSWORD": "",
            "HOST": str(self.socket_dir),
            "PORT": str(PORT),
        }

    def url(self, name: str) -> str:
        """``COPGATE_DATABASE_URL`` for a database of this cluster."""
        return f"postgresql://{SUPERUSER}@:{PORT}/{name}?host={self.socket_dir}"

    def stop(self) -> None:
        """Stop the server (fast: sessions are cut) and remove the directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(["pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, argv: Sequence[str]) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED)
            command = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--clear-groups",
                *command,
            ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"},
        )
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")


def start_cluster(bindir: Path) -> Cluster:
    """initdb and start a cluster in a new temporary directory; ClusterError if it fails."""
    root = Path(tempfile.mkdtemp(prefix="copgate-pg-"))
    cluster = Cluster(root, bindir)
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED)
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster._run(
            ["initdb", "-D", str(cluster.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8"]
        )
        cluster._run(
            [
                "pg_ctl",
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT),
                "-D",
                str(cluster.data),
                "-l",
                str(root / "server.log"),
                "-o",
                f"-k {root} -p {PORT} {SERVER_OPTIONS}",
            ]
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
