"""What a gateway pays to import the release checks: no cryptography until it verifies."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PROBE = """
import sys
import copgate.release.artefact, copgate.release.verify
heavy = ("cryptography", "copgate.lists.compile", "copgate.dist")
print(sorted(m for m in heavy if m in sys.modules))
"""


def test_importing_the_checks_loads_neither_cryptography_nor_the_distributor() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    assert done.stdout.strip() == "[]"
