"""``copgate dist migrate|createadmin|run|publish-due`` as an operator runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPGATE_", "DJANGO_"))}
    return {**env, "COPGATE_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}


def _copgate(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copgate", "dist", *args],
        env=_env(data),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_migrate_then_createadmin_on_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _copgate(data, "migrate")
    assert done.returncode == 0, done.stderr
    assert "a new secret key" in done.stdout and "database ready (sqlite3)" in done.stdout
    assert ((data / "secret_key").stat().st_mode & 0o777) == 0o600
    again = _copgate(data, "migrate")
    assert again.returncode == 0 and "a new secret key" not in again.stdout
    password = tmp_path / "pw"
    password.write_text("a long enough password\n")
    made = _copgate(data, "createadmin", "ada", "--password-file", str(password))
    assert made.returncode == 0, made.stderr
    assert "ada: administrator made" in made.stdout
    with sqlite3.connect(data / "db.sqlite3") as db:
        rows = db.execute(
            "select g.name from auth_user u join auth_user_groups ug on ug.user_id = u.id "
            "join auth_group g on g.id = ug.group_id where u.username = 'ada'"
        ).fetchall()
        actions = db.execute("select action from curation_auditlog").fetchall()
    assert rows == [("administrator",)]
    assert actions == [("seed",), ("user.createadmin",)]


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _copgate(data, "migrate").returncode == 0
    password = tmp_path / "pw"
    password.write_text("short")
    done = _copgate(data, "createadmin", "ada", "--password-file", str(password))
    assert done.returncode == 2
    assert "at least 12 characters" in done.stderr


def test_run_refuses_without_a_key_or_before_migrate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    done = _copgate(data, "run", "--port", "0")
    assert done.returncode == 2
    assert "no secret key: run 'copgate dist migrate'" in done.stderr
    (data / "secret_key").write_text("k" * 64)
    done = _copgate(data, "run", "--port", "0")
    assert done.returncode == 2
    assert "not migrated" in done.stderr


def test_the_release_commands_do_not_load_django() -> None:
    probe = (
        "import sys, copgate.cli; copgate.cli.build_parser(['dist', 'build']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_publish_due_with_nothing_due(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _copgate(data, "migrate").returncode == 0
    done = _copgate(data, "publish-due")
    assert done.returncode == 0, done.stderr
    assert "no publication due" in done.stdout


def test_behind_a_proxy_the_deploy_check_is_clean(tmp_path: Path) -> None:
    env = {
        **_env(tmp_path),
        "COPGATE_BEHIND_PROXY": "1",
        "COPGATE_SECRET_KEY": os.urandom(40).hex(),
        "COPGATE_ALLOWED_HOSTS": "lists.example.org",
        "DJANGO_SETTINGS_MODULE": "copgate.distributor.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
