"""copgate.daemon.status: the report copgate status shows, from the counters and the facts."""

from __future__ import annotations

import json

from copgate.daemon.status import Facts, queue_summary, status_report
from copgate.lists.listset import ListSet
from tests.daemon.test_engine import config
from tests.policy.helpers import black, compiled

COUNTERS: dict[str, object] = {
    "packets": 500,
    "failures": 3,
    "verdicts": {"dns:allow": 300, "dns:block": 20, "tls:block": 4, "failure:allow": 2,
                 "failure:block": 1, "unreadable:refuse": 6},
    "queues": {
        "0": {"handled": 400, "enobufs": 2, "kernel_dropped": 0, "user_dropped": 1},
        "1": {"handled": 100, "enobufs": 0, "kernel_dropped": 5, "user_dropped": 0},
    },
}  # fmt: skip


def test_the_queue_summary_nests_verdicts_and_adds_up_overflows() -> None:
    summary = queue_summary(COUNTERS)
    assert summary == {
        "packets": 500,
        "verdicts": {
            "dns": {"allow": 300, "block": 20},
            "failure": {"allow": 2, "block": 1},
            "tls": {"block": 4},
            "unreadable": {"refuse": 6},
        },
        "failures": 3,
        "fail_open": 2,
        "fail_closed": 1,
        "overflows": {"enobufs": 2, "kernel_dropped": 5, "user_dropped": 1},
    }
    assert queue_summary({}) == {
        "packets": 0,
        "verdicts": {},
        "failures": 0,
        "fail_open": 0,
        "fail_closed": 0,
        "overflows": {"enobufs": 0, "kernel_dropped": 0, "user_dropped": 0},
    }


def _facts(update: dict[str, object] | None, offload: bool | None) -> Facts:
    cache = compiled([black("casino.example", "gambling")], "default")
    return Facts(
        now=1_700_003_600.0,
        started=1_700_003_000.0,
        uptime=600.0,
        config=config(),
        config_file="/etc/config/copgate",
        lists=ListSet([cache]),
        update=update,
        offload=offload,
        extra={"log": {"entries": 0}},
    )


def test_the_report_says_who_since_when_with_what() -> None:
    report = status_report(_facts(None, None), COUNTERS)
    assert report["uptime"] == 600.0
    assert report["config"] == {
        "file": "/etc/config/copgate",
        "groups": ["pupils"],
        "default_group": "pupils",
    }
    assert report["lists"] == [
        {"name": "default", "file": "default.cgl", "release": 0, "built": 1_700_000_000,
         "age": 3600.0}
    ]  # fmt: skip
    assert (report["update"], report["offload"]) == ("unknown", "unknown")
    assert report["log"] == {"entries": 0}
    assert report["counters"] == COUNTERS
    assert json.loads(json.dumps(report)) == report


def test_update_and_offload_show_what_their_probes_say() -> None:
    result = {"result": "installed", "release": 43}
    report = status_report(_facts(result, True), COUNTERS)
    assert (report["update"], report["offload"]) == (result, "on")
    assert status_report(_facts(None, False), COUNTERS)["offload"] == "off"
