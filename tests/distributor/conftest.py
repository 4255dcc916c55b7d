"""The distributor's test harness: every database test runs on SQLite AND PostgreSQL.

``django_backend`` is a session fixture parametrised by backend: pytest
groups the tests by it, so each backend is set up once. For PostgreSQL it
starts a throw-away cluster (``pgcluster``) as an unprivileged user, in a
temporary directory, and removes it at the end. Django's own test database
machinery (``create_test_db``: migrations, cache table) makes the test
database on each backend and drops it afterwards.

Fixtures for tests:

- ``db``: a test body inside a transaction rolled back at the end (as
  Django's ``TestCase``), fast and isolated.
- ``live_db``: committed data, for tests where another process (the service
  run by ``copgate dist run``) reads the database; every table is emptied at
  the end and the roles made again (as ``TransactionTestCase``).
- ``client``: Django's test client; ``make_user(role)`` a user with a role.
- ``service_env``: the environment a subprocess needs to use the same
  database and data directory (``COPGATE_DATABASE_URL``...).
- ``live_service``: ``copgate dist run`` on 127.0.0.1 (a free port) over the
  test database (``live_db``), with a release tree and its signing key;
  stopped by its pid at the end.

Without PostgreSQL installed the PostgreSQL half is skipped, except under
``CI=true`` where it fails: CI installs it (scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Django reads its settings once, from the environment, at the first import:
# a data directory and key of the session's own, before anything imports Django.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="copgate-distributor-test-"))
os.environ["DJANGO_SETTINGS_MODULE"] = "copgate.distributor.settings"
os.environ["COPGATE_DATA_DIR"] = str(_DATA_DIR)
os.environ["COPGATE_SECRET_KEY"] = os.urandom(32).hex()
for _name in ("COPGATE_DATABASE_URL", "COPGATE_SECRET_KEY_FILE", "COPGATE_BEHIND_PROXY"):
    os.environ.pop(_name, None)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import AbstractBaseUser, Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

from tests.distributor.helpers import SigningSetup, make_tree  # noqa: E402
from tests.distributor.pgcluster import Cluster, ClusterError, find_bindir, start_cluster  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
TEST_DATABASE = "copgate"


@dataclass(frozen=True)
class Backend:
    """The database the tests of one half run on."""

    name: str
    """``sqlite`` or ``postgresql``."""
    url: str
    """``COPGATE_DATABASE_URL`` of the test database, for subprocesses."""
    data_dir: Path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def _test_environment() -> Iterator[None]:
    setup_test_environment()
    yield
    teardown_test_environment()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the session's own (started when first asked for)."""
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (Debian: postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        cluster = start_cluster(bindir)
    except ClusterError as exc:
        pytest.fail(f"test PostgreSQL cluster: {exc}")
    yield cluster
    cluster.stop()


def _use_database(settings: dict[str, Any]) -> None:
    """Point Django's default connection at ``settings`` (between the two halves)."""
    from django.conf import settings as django_settings

    connections.close_all()
    database = {**settings, "TEST": {**settings.get("TEST", {})}}
    django_settings.DATABASES = {"default": database}
    # The handler caches its configured settings and connections: start it afresh.
    connections.__dict__.pop("settings", None)
    connections._settings = None  # type: ignore[attr-defined]
    for alias in list(connections):
        del connections[alias]


@pytest.fixture(scope="session", params=BACKENDS)
def django_backend(request: pytest.FixtureRequest, _test_environment: None) -> Iterator[Backend]:
    """The test database on one backend, migrated; dropped when the half is done."""
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        settings = cluster.database()
        settings["TEST"] = {"NAME": f"test_{TEST_DATABASE}"}
        url = cluster.url(f"test_{TEST_DATABASE}")
    else:
        path = _DATA_DIR / "test.sqlite3"
        # A file, not Django's in-memory default: the service in a subprocess opens it too.
        settings = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_DATA_DIR / "db.sqlite3"),
            "TEST": {"NAME": str(path)},
        }
        url = f"sqlite:///{path}"
    _use_database(settings)
    connection = connections["default"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    yield Backend(request.param, url, _DATA_DIR)
    connection.creation.destroy_test_db(old_name, verbosity=0)
    connections.close_all()


@pytest.fixture
def db(django_backend: Backend) -> Iterator[Backend]:
    """The test database; what the test writes is rolled back at the end."""
    atomic = transaction.atomic()
    atomic.__enter__()
    try:
        yield django_backend
    finally:
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.fixture
def live_db(django_backend: Backend) -> Iterator[Backend]:
    """The test database with commits another process can see; emptied at the end."""
    from copgate.distributor.curation.permissions import ensure_roles

    yield django_backend
    connections.close_all()
    call_command("flush", interactive=False, verbosity=0)
    ensure_roles()


@pytest.fixture
def client(db: Backend) -> Client:
    """Django's test client (it enforces CSRF only when ``Client(enforce_csrf_checks=True)``)."""
    return Client()


@pytest.fixture
def make_user(
    django_backend: Backend, request: pytest.FixtureRequest
) -> Callable[..., AbstractBaseUser]:
    """``make_user("alice", "expert")``: a user in a role.

    With ``password=True`` the password is ``"pw-" + name``; without, none is
    usable (hashing one costs a quarter second: most tests sign in with
    ``Client.force_login``). A test must ask for ``db`` or ``live_db`` too:
    without either, the user would be committed and outlive the test, and a
    later test making the same name would fail far from the cause.
    """
    from django.contrib.auth import get_user_model

    if not {"db", "live_db"} & set(request.fixturenames):
        raise pytest.UsageError(f"{request.node.nodeid}: make_user needs the db or live_db fixture")

    def make(name: str, *roles: str, password: bool = False) -> AbstractBaseUser:
        user = get_user_model().objects.create_user(
            username=name,
            password=f"pw-{name}" if password else None,
            email=f"{name}@example.org",
        )
        for role in roles:
            Group.objects.get(name=role).user_set.add(user)
        return user

    return make


@pytest.fixture
def service_env(django_backend: Backend) -> dict[str, str]:
    """The environment of a ``copgate dist ...`` subprocess on the same test database."""
    return {
        **os.environ,
        "COPGATE_DATABASE_URL": django_backend.url,
        "COPGATE_DATA_DIR": str(django_backend.data_dir),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


SERVICE_START = 30.0
"""Seconds ``copgate dist run`` gets to say where it listens."""


@dataclass(frozen=True)
class LiveService:
    """The service run by ``copgate dist run`` for a test."""

    url: str
    """``http://127.0.0.1:PORT`` (no trailing slash)."""
    signing: SigningSetup
    env: dict[str, str]


@pytest.fixture
def live_service(
    live_db: Backend, service_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveService]:
    """``copgate dist run --port 0`` over the test database, with a tree and a release key."""
    signing = make_tree(tmp_path)
    env = {
        **service_env,
        "COPGATE_TREE_DIR": str(signing.tree.root),
        "COPGATE_SIGNING_KEY": str(signing.secret_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "copgate", "dist", "run", "--port", "0", "--threads", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _service_url(process)
        yield LiveService(url, signing, env)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _service_url(process: subprocess.Popen[str]) -> str:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(SERVICE_START):
            raise AssertionError("copgate dist run said nothing in time")
    line = process.stdout.readline()
    if "http://" not in line:
        errors = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"copgate dist run did not start: {line!r} {errors}")
    return "http://" + line.split("http://", 1)[1].strip().rstrip("/")
