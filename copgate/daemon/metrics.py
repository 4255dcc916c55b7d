"""The status as Prometheus text (exposition format 0.0.4), for the optional endpoint.

Every metric is a row of ``SCALARS`` (one number from the status) or a
family with labels (verdicts by kind and action, each queue's counts, each
list's age and release, evasion by what it did, the block page's counts).
Counters end in ``_total`` and only grow while the daemon runs; gauges are
what is true now. Label values are escaped as the format says (backslash,
double quote, newline).

Pure: it turns a status object (``copgate.daemon.status.status_report``)
into text; it never reads a counter itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The exposition format's media type (Prometheus "Exposition formats", text 0.0.4)."""
PREFIX = "copgate_"

SCALARS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    # (metric, path in the status object, type, help)
    ("uptime_seconds", ("uptime",), "gauge", "Seconds since the daemon started."),
    ("packets_total", ("queue", "packets"), "counter", "Packets judged."),
    ("failures_total", ("queue", "failures"), "counter", "Packets the daemon could not judge."),
    (
        "fail_open_total",
        ("queue", "fail_open"),
        "counter",
        "Undecided packets a fail-open group let through.",
    ),
    (
        "fail_closed_total",
        ("queue", "fail_closed"),
        "counter",
        "Undecided packets a fail-closed group stopped.",
    ),
    ("malformed_total", ("counters", "malformed"), "counter", "Packets that could not be read."),
    (
        "pending_total",
        ("counters", "pending"),
        "counter",
        "Packets passed while their hello was incomplete.",
    ),
    (
        "untrusted_total",
        ("counters", "untrusted"),
        "counter",
        "Questions read from bytes the server may never read.",
    ),
    (
        "bad_checksum_total",
        ("counters", "bad_checksum"),
        "counter",
        "Packets passed unread because their checksum is wrong.",
    ),
    (
        "not_lan_total",
        ("counters", "not_lan"),
        "counter",
        "Blocked packets from outside the LAN interfaces.",
    ),
    (
        "blocked_again_total",
        ("counters", "blocked_again"),
        "counter",
        "Later packets of flows already blocked.",
    ),
    ("injected_total", ("counters", "injected"), "counter", "Forged packets sent."),
    (
        "inject_failed_total",
        ("counters", "inject_failed"),
        "counter",
        "Forged packets that could not be sent.",
    ),
    (
        "handler_failures_total",
        ("counters", "handler_failures"),
        "counter",
        "Exceptions caught in the event loop.",
    ),
    ("flows_held", ("counters", "flows_held"), "gauge", "Flows waiting for the rest of a hello."),
    ("blocked_flows", ("counters", "blocked_flows"), "gauge", "Blocked flows remembered."),
    (
        "decisions_recorded_total",
        ("log", "recorded"),
        "counter",
        "Decisions recorded in the log ring (kept or not).",
    ),
    ("log_entries", ("log", "entries"), "gauge", "Decisions held in the log ring."),
)

QUEUE_COUNTS: tuple[tuple[str, str, str, str], ...] = (
    # (metric, key in the queue's stats, type, help)
    ("queue_handled_total", "handled", "counter", "Packets read from the queue."),
    ("queue_verdict_failures_total", "verdict_failures", "counter", "Verdicts the kernel refused."),
    ("queue_enobufs_total", "enobufs", "counter", "Receive-buffer overflows reported."),
    (
        "queue_kernel_dropped_total",
        "kernel_dropped",
        "counter",
        "Packets the kernel dropped over the queue's length.",
    ),
    (
        "queue_user_dropped_total",
        "user_dropped",
        "counter",
        "Packets the kernel could not hand to the daemon's socket.",
    ),
    ("queue_waiting", "queue_total", "gauge", "Packets waiting for a verdict."),
)


def render(status: Mapping[str, object]) -> str:
    """The exposition text of ``status``; a value the status lacks is left out."""
    return "".join(_lines(status))


def _lines(status: Mapping[str, object]) -> Iterator[str]:
    for metric, path, kind, text in SCALARS:
        value = _at(status, path)
        if _number(value):
            yield from _head(metric, kind, text)
            yield f"{PREFIX}{metric} {value}\n"
    yield from _verdicts(status)
    yield from _queues(status)
    yield from _labelled(
        "evasion_total",
        "counter",
        "Flows that looked like evasion, by what they did.",
        "what",
        _at(status, ("counters", "evasion")),
    )
    yield from _labelled(
        "blockpage_total",
        "counter",
        "Block page connections, by outcome.",
        "outcome",
        _at(status, ("counters", "blockpage")),
    )
    yield from _lists(status)


def _verdicts(status: Mapping[str, object]) -> Iterator[str]:
    verdicts = _at(status, ("queue", "verdicts"))
    if not isinstance(verdicts, dict):
        return
    yield from _head("verdicts_total", "counter", "Verdicts, by kind and action.")
    for kind, actions in sorted(verdicts.items()):
        if isinstance(actions, dict):
            for action, count in sorted(actions.items()):
                labels = _labels(kind=kind, action=action)
                yield f"{PREFIX}verdicts_total{{{labels}}} {count}\n"


def _queues(status: Mapping[str, object]) -> Iterator[str]:
    queues = _at(status, ("counters", "queues"))
    if not isinstance(queues, dict):
        return
    for metric, key, kind, text in QUEUE_COUNTS:
        yield from _head(metric, kind, text)
        for queue, stats in sorted(queues.items()):
            if isinstance(stats, dict) and _number(stats.get(key)):
                yield f"{PREFIX}{metric}{{{_labels(queue=queue)}}} {stats[key]}\n"


def _lists(status: Mapping[str, object]) -> Iterator[str]:
    lists = status.get("lists")
    if not isinstance(lists, list):
        return
    for metric, key, text in (
        ("list_age_seconds", "age", "Seconds since the list was built."),
        ("list_release", "release", "The list's release number (0: a local build)."),
    ):
        yield from _head(metric, "gauge", text)
        for held in lists:
            if isinstance(held, dict) and _number(held.get(key)):
                yield f"{PREFIX}{metric}{{{_labels(list=held.get('name'))}}} {held[key]}\n"


def _labelled(metric: str, kind: str, text: str, label: str, values: object) -> Iterator[str]:
    if not isinstance(values, dict):
        return
    yield from _head(metric, kind, text)
    for name, count in sorted(values.items()):
        if _number(count):
            yield f"{PREFIX}{metric}{{{_labels(**{label: name})}}} {count}\n"


def _head(metric: str, kind: str, text: str) -> Iterator[str]:
    yield f"# HELP {PREFIX}{metric} {text}\n"
    yield f"# TYPE {PREFIX}{metric} {kind}\n"


def _labels(**labels: object) -> str:
    return ",".join(f'{key}="{escape(str(value))}"' for key, value in labels.items())


def escape(value: str) -> str:
    """A label value as the text format writes it: ``\\``, ``"`` and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _at(status: Mapping[str, object], path: tuple[str, ...]) -> object:
    value: object = status
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
