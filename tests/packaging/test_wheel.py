"""The wheel: built from the tree, installed into a fresh venv, run with the shipped defaults.

The wheel is built with ``pip wheel --no-deps --no-build-isolation`` from a
copy of the tree (``copgate.packaging.wheel``: the shared venv has
setuptools and wheel, so no network, and the checkout gets no ``build/``),
then installed with pip
into a new virtual environment without system site packages. Its one
dependency comes from the test's own environment: a ``.pth`` file names
the directory cryptography is installed in (the wheel's metadata is checked
to ask for it). Then, from outside the checkout and with no PYTHONPATH, the
venv's ``copgate`` compiles the lists the wheel carries and runs ``config
check`` and ``check`` with the default TOML of ``packaging/debian`` (its
lists path pointed at that cache), and ``systemd-analyze verify`` reads the
unit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cryptography
import pytest

from copgate.packaging.wheel import build_wheel

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "packaging" / "debian"


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        argv, capture_output=True, text=True, env=env, check=False, timeout=120, **kwargs
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "copgate"
    made = _run([sys.executable, "-m", "venv", str(where)])
    assert made.returncode == 0, made.stderr
    site = next((where / "lib").glob("python3.*/site-packages"))
    # cryptography (and what it needs, cffi) from this environment, not PyPI.
    (site / "deps.pth").write_text(str(Path(cryptography.__file__).parents[1]) + "\n")
    installed = _run(
        [str(where / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=where,
    )
    assert installed.returncode == 0, installed.stderr
    return where


def test_the_wheel_carries_the_lists_and_templates_and_asks_for_cryptography(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    for name in (
        "copgate/data/manifest.toml",
        "copgate/data/site-content.toml",
        "copgate/data/templates/school.toml",
        "copgate/data/categories/global_usage",
        "copgate/cli.py",
        "copgate/edges/nft.py",
    ):
        assert name in names, name
    categories = [n for n in names if n.startswith("copgate/data/categories/")]
    assert len(categories) == len(list((ROOT / "lists" / "categories").iterdir()))
    assert "Requires-Dist: cryptography>=38" in requires


def test_the_installed_copgate_checks_the_shipped_default(venv: Path, tmp_path: Path) -> None:
    copgate = str(venv / "bin" / "copgate")
    located = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import copgate, copgate.config.templates as t; print(copgate.__file__); "
            "print(t.default_templates_dir())",
        ],
        cwd=tmp_path,
    )
    module, templates = located.stdout.split()
    assert module.startswith(str(venv)), "copgate must come from the venv, not the checkout"
    assert templates.startswith(str(venv)) and templates.endswith("copgate/data/templates")

    data = Path(templates).parent
    cache = tmp_path / "lists.cgc"
    compiled = _run(
        [copgate, "compile", str(data / "manifest.toml"), "-o", str(cache)], cwd=tmp_path
    )
    assert compiled.returncode == 0, compiled.stderr

    config = tmp_path / "copgate.toml"
    config.write_text(
        (DEBIAN / "copgate.toml").read_text().replace("/var/lib/copgate/lists.cgc", str(cache))
    )
    checked = _run([copgate, "config", "check", str(config)], cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "valid, 1 group(s)" in checked.stdout
    assert "categories not checked" not in checked.stdout + checked.stderr
    verdict = _run([copgate, "check", "pornhub.com", "--config", str(config)], cwd=tmp_path)
    assert verdict.returncode == 0, verdict.stderr
    assert "adult" in verdict.stdout and "block" in verdict.stdout.lower()
    allowed = _run([copgate, "check", "wikipedia.org", "--config", str(config)], cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "allow" in allowed.stdout.lower()


def test_the_unit_is_what_systemd_reads() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze (package systemd) is needed to read the unit")
    unit = DEBIAN / "copgate.service"
    result = _run([analyze, "verify", "--man=no", str(unit)])
    # The only complaint allowed: /opt/copgate is not installed on this machine.
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "/opt/copgate/bin/copgate" not in line
    ]
    assert problems == []
    text = unit.read_text()
    for line in (
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
        "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ):
        assert f"\n{line}\n" in text, line
