"""copgate.daemon.probes: other parts report the update result and flow offloading."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from copgate.daemon import probes


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    probes.forget()
    yield
    probes.forget()


def test_nothing_reported_is_unknown() -> None:
    assert probes.last_update() is None and probes.flow_offload() is None


def test_a_report_is_what_is_read_and_a_copy() -> None:
    result: dict[str, object] = {"result": "installed", "release": 43}
    probes.report_update(result)
    result["release"] = 44  # the reporter's dict changing later changes nothing
    assert probes.last_update() == {"result": "installed", "release": 43}
    read = probes.last_update()
    assert read is not None
    read["release"] = 0  # nor does the reader's copy
    assert probes.last_update() == {"result": "installed", "release": 43}
    probes.report_offload(True)
    assert probes.flow_offload() is True
    probes.report_offload(False)
    assert probes.flow_offload() is False
