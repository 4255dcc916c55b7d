"""``copgate inspect``: run captures through the wire core, report each name per flow.

Reads pcap and pcapng files (``copgate.tools.capture``), feeds every packet
through the same ``FlowTracker`` the daemon uses, and prints each distinct
name per flow: a table, or one JSON object per line with ``--json``. A
damaged packet is counted and skipped; a damaged capture is an error naming
the file, after the names read before the damage.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from copgate.errors import CaptureError, WireError
from copgate.policy.decision import Decision
from copgate.tools.capture import read_capture
from copgate.tools.judge import OfflineJudge
from copgate.wire.flows import FlowTracker, Limits, Seen
from copgate.wire.link import ip_datagram
from copgate.wire.packet import PROTO_UDP, read_ip
from copgate.wire.question import Address, Question

Judge = Callable[[Question, float], Decision]
"""Decides a question seen at a capture timestamp (``OfflineJudge``)."""

# Offline, a capture's flows may pause for longer than a router would wait.
INSPECT_LIMITS = Limits(max_age=3600.0)

TABLE_COLUMNS = ("proto", "client", "server", "name", "detail")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="report the names clients ask for in pcap/pcapng captures",
        description="Feed captures through copgate's wire core and report each name per flow.",
    )
    parser.add_argument("captures", nargs="+", type=Path, metavar="CAPTURE")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="judge each name as the daemon would with this config: adds verdict and reason",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    judge = OfflineJudge.open(args.config) if getattr(args, "config", None) else None
    try:
        return _run(args, judge)
    finally:
        if judge is not None:
            judge.close()


def _run(args: argparse.Namespace, judge: Judge | None) -> int:
    failed = False
    for path in args.captures:
        summary = CaptureSummary()
        try:
            rows = list(inspect_capture(path, summary, judge))
        except CaptureError as exc:
            print(f"copgate inspect: {exc}", file=sys.stderr)
            failed = True
            rows = summary.rows
        _print_rows(rows, args.json, path)
        if summary.damaged or not args.json:
            print(summary.describe(path), file=sys.stderr)
    return 1 if failed else 0


class CaptureSummary:
    """What happened to a capture's packets, for the closing line."""

    def __init__(self) -> None:
        self.packets = 0
        self.damaged = 0
        self.first_damage = ""
        self.seen: Counter[str] = Counter()
        self.rows: list[dict[str, Any]] = []

    def describe(self, path: Path) -> str:
        text = f"{path}: {self.packets} packets, {len(self.rows)} names"
        if self.damaged:
            text += f", {self.damaged} damaged packets skipped (first: {self.first_damage})"
        return text


def inspect_capture(
    path: Path, summary: CaptureSummary | None = None, judge: Judge | None = None
) -> Iterator[dict[str, Any]]:
    """One row per distinct (protocol, client, server, name) in the capture.

    With ``judge``, each row also carries the decision for its question.
    """
    summary = summary or CaptureSummary()
    tracker = FlowTracker(INSPECT_LIMITS, verify_checksums=False)  # offloaded checksums
    reported: set[tuple[str, Address, Address, str | None]] = set()
    for index, frame in enumerate(read_capture(path), start=1):
        summary.packets += 1
        try:
            datagram = ip_datagram(frame.linktype, frame.data)
            if datagram is None:
                continue
            observation = tracker.feed(read_ip(datagram), frame.time)
        except WireError as exc:
            _damaged(summary, index, str(exc))
            continue
        summary.seen[observation.seen.value] += 1
        if observation.seen is Seen.MALFORMED:
            _damaged(summary, index, observation.reason)
        for question in observation.questions:
            key = (question.kind.value, question.client, question.server, _text(question))
            if key in reported:
                continue
            reported.add(key)
            row = question_row(str(path), question)
            if judge is not None:
                row.update(decision_fields(judge(question, frame.time)))
            summary.rows.append(row)
            yield row


def _damaged(summary: CaptureSummary, index: int, reason: str) -> None:
    summary.damaged += 1
    if not summary.first_damage:
        summary.first_damage = f"packet {index}: {reason}"


def _text(question: Question) -> str | None:
    return question.name.text if question.name is not None else None


def format_address(address: Address) -> str:
    """``ip:port``, IPv6 in brackets."""
    raw, port = address
    ip = ipaddress.ip_address(raw)
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def question_row(capture: str, question: Question) -> dict[str, Any]:
    """The JSON-ready description of one question."""
    name = question.name
    row: dict[str, Any] = {
        "capture": capture,
        "proto": question.kind.value,
        "transport": "udp" if question.transport == PROTO_UDP else "tcp",
        "client": format_address(question.client),
        "server": format_address(question.server),
        "name": name.text if name is not None else None,
        "valid": name.valid if name is not None else False,
    }
    if name is not None and not name.valid:
        row["invalid_reason"] = name.reason
    if question.hello is not None:
        row["ech"] = question.hello.ech.value
        row["alpn"] = list(question.hello.alpn)
    if question.dns is not None:
        row["qtype"] = question.dns.qtype
        row["response"] = question.dns.response
    if question.quic_version is not None:
        row["quic_version"] = f"0x{question.quic_version:08x}"
    return row


def decision_fields(decision: Decision) -> dict[str, Any]:
    """The keys ``--config`` adds to a row."""
    return {
        "verdict": decision.verdict.value,
        "reason": decision.reason,
        "group": decision.group,
        "rule": decision.rule.value,
        "list": decision.list_name,
        "category": decision.category,
        "match": decision.match,
    }


def _detail(row: dict[str, Any]) -> str:
    parts = []
    if "qtype" in row:
        parts.append(f"type {row['qtype']}" + (" (response)" if row["response"] else ""))
    if "ech" in row:
        parts.append(f"ech {row['ech']}")
    if row.get("alpn"):
        parts.append("alpn " + ",".join(row["alpn"]))
    if "quic_version" in row:
        parts.append(f"quic {row['quic_version']}")
    if not row["valid"]:
        parts.append(f"INVALID: {row.get('invalid_reason') or 'no name'}")
    if "verdict" in row:
        parts.append(f"{row['verdict'].upper()} ({row['group']}): {row['reason']}")
    return "; ".join(parts)


def _print_rows(rows: Iterable[dict[str, Any]], as_json: bool, path: Path) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=True))
        return
    table = [
        (r["proto"], r["client"], r["server"], r["name"] or "(none)", _detail(r)) for r in rows
    ]
    if not table:
        print(f"{path}: no names found")
        return
    columns = zip(TABLE_COLUMNS, *table, strict=True)
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    print(f"== {path}")
    for line in (TABLE_COLUMNS, *table):
        cells = zip(line, widths, strict=True)
        print("  ".join(str(cell).ljust(width) for cell, width in cells).rstrip())
