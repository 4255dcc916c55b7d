"""copgate.daemon.metrics: the status as Prometheus text, every line well-formed."""

from __future__ import annotations

import re

from copgate.daemon.metrics import escape, render

STATUS: dict[str, object] = {
    "uptime": 12.5,
    "lists": [{"name": "default", "release": 7, "built": 1000, "age": 3600.0}],
    "queue": {
        "packets": 100,
        "failures": 2,
        "fail_open": 1,
        "fail_closed": 1,
        "verdicts": {"dns": {"allow": 60, "block": 5}, "tls": {"block": 1}},
    },
    "counters": {
        "malformed": 3,
        "flows_held": 4,
        "evasion": {'odd "name"\\': 2},
        "queues": {
            "0": {"handled": 90, "enobufs": 1, "kernel_dropped": 0, "user_dropped": 0,
                  "verdict_failures": 0, "queue_total": 0},
            "1": {"handled": 10, "enobufs": 0, "kernel_dropped": 0, "user_dropped": 0,
                  "verdict_failures": 0, "queue_total": 2},
        },
        "blockpage": {"served": 5, "refused": 0},
    },
    "log": {"recorded": 66, "entries": 6},
}  # fmt: skip

_SAMPLE = re.compile(
    r'^copgate_[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\.)*"(,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? [0-9.]+$'
)


def test_every_line_is_a_comment_or_a_sample() -> None:
    text = render(STATUS)
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line.startswith(("# HELP copgate_", "# TYPE copgate_")) or _SAMPLE.match(line), line


def test_the_counters_are_there_with_their_labels() -> None:
    lines = set(render(STATUS).splitlines())
    for expected in (
        "copgate_uptime_seconds 12.5",
        "copgate_packets_total 100",
        "copgate_fail_open_total 1",
        "copgate_malformed_total 3",
        "copgate_flows_held 4",
        'copgate_verdicts_total{kind="dns",action="allow"} 60',
        'copgate_verdicts_total{kind="tls",action="block"} 1',
        'copgate_queue_handled_total{queue="0"} 90',
        'copgate_queue_waiting{queue="1"} 2',
        'copgate_evasion_total{what="odd \\"name\\"\\\\"} 2',
        'copgate_blockpage_total{outcome="served"} 5',
        'copgate_list_release{list="default"} 7',
        'copgate_list_age_seconds{list="default"} 3600.0',
        "copgate_decisions_recorded_total 66",
        "# TYPE copgate_packets_total counter",
        "# TYPE copgate_flows_held gauge",
    ):
        assert expected in lines, expected


def test_each_metric_is_declared_once() -> None:
    types = [line.split()[2] for line in render(STATUS).splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types))


def test_what_the_status_lacks_is_left_out() -> None:
    assert render({}) == ""
    assert render({"queue": {"packets": True}}) == ""  # a bool is not a count


def test_escape() -> None:
    assert escape('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
