"""Building copgate's wheel from a clean copy of the tree.

``pip wheel`` of a source directory builds in place: setuptools leaves
``build/`` and ``copgate.egg-info`` in it, and reuses ``build/lib`` the next
time, so a module deleted since could ride along in a later wheel. This
copies what the wheel is made of (``WHEEL_SOURCES``) into a scratch
directory and builds there, without build isolation (so without the
network: the build environment's setuptools and wheel are used). Runs on a
build machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WHEEL_SOURCES = ("pyproject.toml", "setup.py", "README.md", "copgate", "lists")
"""What setup.py and pyproject.toml package (``copgate.data`` is ``lists/``)."""


class WheelError(Exception):
    """pip could not build the wheel."""


def build_wheel(source: Path, out_dir: Path) -> Path:
    """Build the wheel of checkout ``source`` into ``out_dir``; its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="copgate-wheel-") as scratch:
        tree = Path(scratch) / "copgate"
        tree.mkdir()
        for name in WHEEL_SOURCES:
            path = source / name
            if path.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(path, tree / name, ignore=ignore)
            else:
                shutil.copyfile(path, tree / name)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(out_dir),
                str(tree),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=scratch,
        )
    if result.returncode != 0:
        raise WheelError(f"pip wheel failed: {result.stderr.strip()}")
    wheels = sorted(out_dir.glob("copgate-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise WheelError(f"pip wheel wrote no copgate wheel into {out_dir}")
    return wheels[-1]
