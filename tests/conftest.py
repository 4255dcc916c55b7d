"""Shared test fixtures: where ../shared/data is, and the CI skip rule.

Tests that read ``../shared/data`` skip with a clear reason where it is absent
(a user's fresh clone). Under ``CI=true`` it must be present and every skip is
a failure: CI proves the real-data and lab tests ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from copgate.config import schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The machines are shared and noisy: a property test must not fail because the
# machine was slow (no deadline, no too-slow health check), and CI runs the same
# examples every time so that a red run can be reproduced.
settings.register_profile(
    "copgate",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=IN_CI,
)
settings.load_profile("copgate")


def shared_data(relative: str) -> Path:
    """The path of a file under ../shared/data, or skip the test (fail in CI)."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"{path} is absent: the shared test data sits beside the project"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test turns the run into a failure."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; a skip is a failure in CI")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def _reports_tmp(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("reports"))


@pytest.fixture(autouse=True)
def _reports_dir_in_tmp(_reports_tmp: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config without ``reports_dir`` keeps requests in a temporary directory, not
    in /etc/copgate/reports: a test that starts a daemon must not write to the host."""
    monkeypatch.setattr(schema, "DEFAULT_REPORTS_DIR", _reports_tmp)
