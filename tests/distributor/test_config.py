"""The deployment settings read from the environment: defaults, PostgreSQL URLs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.distributor.config import make_secret_key_file, read_config, secret_key
from copgate.errors import ConfigError


def test_the_defaults_need_nothing_but_a_home(tmp_path: Path) -> None:
    config = read_config({"HOME": str(tmp_path)})
    data = tmp_path / ".local/share/copgate-distributor"
    assert config.data_dir == data
    assert config.database == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(data / "db.sqlite3"),
    }
    assert config.allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
    assert (config.behind_proxy, config.debug, config.signing_key) == (False, False, None)
    assert config.tree_dir == data / "tree"


def test_a_postgresql_url(tmp_path: Path) -> None:
    config = read_config(
        {
            "COPGATE_DATA_DIR": str(tmp_path),
            "COPGATE_DATABASE_URL": "postgresql://copgate:s%40cret@db.example.org:5433/lists",
        }
    )
    database = config.database
    assert (database["ENGINE"], database["NAME"], database["USER"]) == (
        "django.db.backends.postgresql",
        "lists",
        "copgate",
    )
    assert (database["PASSWORD"], database["HOST"], database["PORT"]) == (
        "s@cret",
        "db.example.org",
        "5433",
    )


def test_a_postgresql_socket_url(tmp_path: Path) -> None:
    config = read_config(
        {
            "COPGATE_DATA_DIR": str(tmp_path),
            "COPGATE_DATABASE_URL": "postgresql://copgate@/lists?host=/run/postgresql",
        }
    )
    assert (config.database["HOST"], config.database["PORT"]) == ("/run/postgresql", "")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"COPGATE_DATABASE_URL": "mysql://x/y"}, "scheme 'mysql' unknown"),
        ({"COPGATE_DATABASE_URL": "postgresql://x@h/"}, "names no database"),
        ({"COPGATE_DATABASE_URL": "postgresql://x@h:99999/d"}, "COPGATE_DATABASE_URL"),
        ({"COPGATE_DATABASE_URL": "sqlite:///"}, "names no file"),
        ({"COPGATE_BEHIND_PROXY": "perhaps"}, "COPGATE_BEHIND_PROXY: 'perhaps'"),
    ],
)
def test_a_wrong_value_names_its_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_config({"HOME": "/nonexistent", **environ})


def test_proxy_hosts_and_origins(tmp_path: Path) -> None:
    config = read_config(
        {
            "COPGATE_DATA_DIR": str(tmp_path),
            "COPGATE_BEHIND_PROXY": "1",
            "COPGATE_ALLOWED_HOSTS": "lists.example.org, lists2.example.org",
            "COPGATE_CSRF_ORIGINS": "https://lists.example.org",
        }
    )
    assert config.behind_proxy
    assert config.allowed_hosts == ("lists.example.org", "lists2.example.org")
    assert config.csrf_origins == ("https://lists.example.org",)


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    config = read_config({"COPGATE_DATA_DIR": str(tmp_path / "data")})
    assert secret_key(config) is None
    assert make_secret_key_file(config)
    key = secret_key(config)
    assert key is not None and len(key) == 96
    assert (config.secret_key_file.stat().st_mode & 0o777) == 0o600
    assert not make_secret_key_file(config)
    assert secret_key(config) == key


def test_a_short_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("short")
    config = read_config(
        {"COPGATE_DATA_DIR": str(tmp_path), "COPGATE_SECRET_KEY_FILE": str(tmp_path / "key")}
    )
    with pytest.raises(ConfigError, match="at least 32"):
        secret_key(config)
    assert not make_secret_key_file(config)  # a configured file is never replaced
