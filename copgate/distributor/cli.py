"""``copgate dist migrate|createadmin|run|publish-due``: the curation service's life.

Registered by ``copgate.tools.dist_cmd`` beside the release commands. This
module imports only the standard library; Django is imported inside the
handlers, so ``copgate dist build`` works where the ``distributor`` extra
is not installed. The settings come from the environment
(``copgate.distributor.config`` lists the variables).

    dist migrate                       create or upgrade the database; make the secret key
    dist createadmin NAME              an administrator (password asked, or --password-file)
    dist run [--bind A] [--port P]     serve with waitress (a production WSGI server)
    dist publish-due                   for cron: fetch due sources, carry out due publications
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from copgate.errors import ConfigError, CopgateError

SETTINGS = "copgate.distributor.settings"
DEFAULT_PORT = 8000
DEFAULT_THREADS = 8
"""waitress worker threads: requests are short; PostgreSQL connections = threads x instances."""
MIN_PASSWORD = 12


class ServiceError(CopgateError):
    """The curation service cannot start or a command cannot finish."""


def register_service(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the service's subcommands to ``copgate dist``."""
    migrate = commands.add_parser(
        "migrate", help="curation service: create or upgrade its database (SQLite by default)"
    )
    migrate.set_defaults(func=run_migrate)
    admin = commands.add_parser("createadmin", help="curation service: make an administrator")
    admin.add_argument("username")
    admin.add_argument("--email", default="")
    admin.add_argument(
        "--password-file", type=Path, metavar="FILE", help="read the password from FILE"
    )
    admin.set_defaults(func=run_createadmin)
    serve = commands.add_parser("run", help="curation service: serve it (waitress)")
    serve.add_argument("--bind", default="127.0.0.1", help="address (127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port; 0 picks one ({DEFAULT_PORT})"
    )
    serve.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help=f"threads ({DEFAULT_THREADS})"
    )
    serve.set_defaults(func=run_service)
    due = commands.add_parser(
        "publish-due", help="curation service (cron): fetch due sources, publish when due"
    )
    due.set_defaults(func=run_publish_due)


def _setup() -> Any:
    """Configure Django from the environment; the settings module."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    try:
        import django
        from django.conf import settings
    except ModuleNotFoundError as exc:
        raise ServiceError(
            f"the curation service needs the distributor extra ({exc.name} is missing): "
            "pip install 'copgate[distributor]'"
        ) from None
    django.setup()
    return settings


def run_migrate(args: argparse.Namespace) -> int:
    """Make the data directory and secret key if missing, then migrate."""
    from copgate.distributor.config import make_secret_key_file, read_config

    config = read_config(os.environ)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if make_secret_key_file(config):
        print(f"{config.secret_key_file}: a new secret key (keep it; every instance needs it)")
    _setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    call_command("createcachetable", verbosity=0)
    from copgate.distributor.curation.seed import seed

    categories, templates = seed()
    if categories or templates:
        print(f"seeded {categories} categories and {templates} templates from the shipped lists")
    print(f"database ready ({config.database['ENGINE'].rsplit('.', 1)[-1]})")
    return 0


def run_createadmin(args: argparse.Namespace) -> int:
    """An administrator (made, or an existing user given the role and a new password)."""
    _setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from copgate.distributor.curation import audit
    from copgate.distributor.curation.permissions import Role, ensure_roles

    password = _password(args.password_file)
    ensure_roles()
    with transaction.atomic():
        model = get_user_model()
        user, created = model.objects.get_or_create(
            username=args.username, defaults={"email": args.email}
        )
        user.set_password(password)
        user.save()
        Group.objects.get(name=Role.ADMINISTRATOR.value).user_set.add(user)
        audit.record(None, "user.createadmin", user)
    print(f"{args.username}: administrator {'made' if created else 'updated'}")
    return 0


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ServiceError(f"{path}: {exc.strerror}") from None
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ServiceError("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ServiceError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def run_service(args: argparse.Namespace) -> int:
    """Serve the WSGI application with waitress until SIGINT or SIGTERM."""
    settings = _setup()
    if settings.COPGATE_EPHEMERAL_KEY:
        raise ConfigError(
            "no secret key: run 'copgate dist migrate' (it makes DATA/secret_key) or set "
            "COPGATE_SECRET_KEY or COPGATE_SECRET_KEY_FILE"
        )
    _check_migrated()
    from waitress.server import TcpWSGIServer, create_server

    from copgate.distributor.wsgi import application

    server = create_server(
        application, host=args.bind, port=args.port, threads=args.threads, ident="copgate"
    )
    if not isinstance(server, TcpWSGIServer) or server.socket is None:
        raise ServiceError(f"{args.bind}: give one address to bind")  # one TCP socket
    host, port = server.socket.getsockname()[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    print(f"serving the curation service at http://{shown}:{port}/", flush=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _check_migrated() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise ServiceError("the database is not migrated: run 'copgate dist migrate' first")


def run_publish_due(args: argparse.Namespace) -> int:
    """Fetch the sources whose schedule is due, then carry out due publications."""
    _setup()
    from django.utils import timezone

    from copgate.distributor.curation import fetching, publishing

    now = timezone.now()
    failed = 0
    for result in fetching.fetch_due(None, now):
        if isinstance(result, fetching.FetchError):
            print(f"fetch: {result}", file=sys.stderr)
            failed += 1
        else:
            print(f"fetched {result.source.name}: {result.size} bytes")
    built = publishing.publish_due(now)
    if built is None:
        print("no publication due")
    else:
        state = "published" if built.signed else "built, waiting for the signer"
        print(f"release {built.release.number}: {built.names} names, {state}")
    return 1 if failed else 0
