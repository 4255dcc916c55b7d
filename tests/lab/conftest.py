"""Fixtures of the network-namespace lab: one Lab per test module, torn down after it.

Lab tests need root, iproute2, iptables, ethtool, dnsmasq, nginx, dig, kdig,
curl and openssl (and Chromium for the browser tests). Where one is missing
they skip with the reason; under CI=true they fail instead, because CI runs
as root on a machine that installs them and must prove the lab ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from copgate.lab.topology import Lab
from tests.conftest import IN_CI

LAB_TOOLS = (
    *("ip", "ss", "iptables", "ip6tables", "iptables-legacy", "ethtool"),
    *("dnsmasq", "nginx", "dig", "kdig", "curl", "openssl"),
)
BROWSER_TOOLS = ("chromium", "chromedriver")


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


def require_lab(tools: tuple[str, ...] = LAB_TOOLS) -> None:
    """Skip (fail in CI) unless this process can build the lab."""
    if os.geteuid() != 0:
        _unavailable("the lab needs root (network namespaces, iptables)")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        _unavailable(f"the lab needs {', '.join(missing)} (see .ci/run for the packages)")


def require_browser() -> None:
    """Skip (fail in CI) unless Debian's chromium and chromedriver are installed."""
    require_lab(BROWSER_TOOLS)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab with its servers, shared by the tests of one module."""
    require_lab()
    with Lab(tmp_path_factory.mktemp("lab")) as built:
        yield built
