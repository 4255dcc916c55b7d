"""Forwarding reports to the distributor: each once, with retry and exponential backoff.

``Forwarder.run_once(now)`` posts every report (``RecordKind.forwarded``)
that is not yet acknowledged and whose next attempt is due, through a
``Poster`` (``copgate.edges.report_post`` speaks HTTP; tests use a fake).
The wire format and the intake's answers are defined in ``docs/reports.md``:

| answer                        | what the gateway does                          |
|-------------------------------|------------------------------------------------|
| 200, 201, 202, 409 (duplicate)| acknowledged: ``.sent`` written, never again   |
| 400, 404, 413, 415, 422       | refused for good: ``.sent`` with the status     |
| 401, 403                      | the token is wrong: retried (an admin fixes it)|
| 408, 429, 5xx, no answer      | retried after the backoff                      |

Never sent twice once acknowledged: the ``.sent`` marker is written
(fsynced) right after the acknowledgement, before anything else. A power cut
between the two can repeat one post, which is why each carries the record's
idempotency key and the intake must treat a key it has seen as a duplicate
(answering 200 or 409): at-least-once delivery made exactly-once by the
receiver. The backoff is per record: ``BACKOFF_FIRST`` doubled per failure
up to ``BACKOFF_MAX``, with ±``JITTER`` so that a thousand gateways that lost
the distributor together do not come back together. It lives in memory: a
restart retries at once, which is the right thing after an outage anyway.
The time and the randomness come in.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from copgate.requests.store import Entry, Record, Store

LOG = logging.getLogger("copgate.reports")
FORMAT_VERSION = 1
BACKOFF_FIRST = 30.0
"""Seconds before the first retry."""
BACKOFF_MAX = 3600.0
"""At most an hour between attempts: a report is not urgent, the link may be metered."""
JITTER = 0.2
ACKNOWLEDGED = frozenset({200, 201, 202, 409})
REFUSED = frozenset({400, 404, 413, 415, 422})
POST_TIMEOUT = 10.0

Poster = Callable[[str, Mapping[str, str], bytes], int]
"""(url, headers, body) -> HTTP status; OSError when there is no answer."""


@dataclass(slots=True)
class _Retry:
    failures: int
    due: float


def report_json(record: Record) -> bytes:
    """The body posted for one report (``docs/reports.md``); the client's address stays here."""
    created = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "key": record.key,
            "kind": str(record.kind),
            "name": record.name,
            "created": created,
            "group": record.group,
            "category": record.category,
            "list": record.list_name,
            "reason": record.reason,
            "comment": record.comment,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode("utf-8")


def backoff(failures: int, uniform: Callable[[float, float], float]) -> float:
    """Seconds to wait after ``failures`` failures in a row."""
    base: float = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** min(failures - 1, 20))
    return base * uniform(1 - JITTER, 1 + JITTER)


@dataclass(slots=True)
class ForwardStats:
    sent: int = 0
    refused: int = 0
    failed: int = 0


class Forwarder:
    """Posts the store's unacknowledged reports to ``url``."""

    def __init__(
        self,
        store: Store,
        url: str,
        token: str | None,
        post: Poster,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.store = store
        self.url = url
        self.token = token
        self.post = post
        self.uniform = uniform
        self._retries: dict[str, _Retry] = {}
        """Record key -> its failures and next attempt."""
        self.stats = ForwardStats()

    def pending(self) -> list[Entry]:
        return [e for e in self.store.entries() if e.record.kind.forwarded and not e.sent]

    def next_due(self, now: float) -> float | None:
        """When ``run_once`` next has work, or None if nothing waits."""
        dues = [self._due(e.record, now) for e in self.pending()]
        return min(dues, default=None)

    def run_once(self, now: float) -> int:
        """Post every due report once; how many were acknowledged."""
        acknowledged = 0
        for entry in self.pending():
            record = entry.record
            if self._due(record, now) > now:
                continue
            if self._send(record, now):
                acknowledged += 1
        return acknowledged

    def _due(self, record: Record, now: float) -> float:
        retry = self._retries.get(record.key)
        return now if retry is None else retry.due

    def _send(self, record: Record, now: float) -> bool:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": record.key,
            "User-Agent": "copgate",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            status = self.post(self.url, headers, report_json(record))
        except OSError as exc:
            self._failed(record, now, f"no answer: {exc}")
            return False
        if status in ACKNOWLEDGED:
            self.store.mark_sent(record.id)
            self._retries.pop(record.key, None)
            self.stats.sent += 1
            LOG.info(
                "report %d (%s %s) acknowledged (%d)", record.id, record.kind, record.name, status
            )
            return True
        if status in REFUSED:
            self.store.mark_sent(record.id, f"refused {status}")
            self._retries.pop(record.key, None)
            self.stats.refused += 1
            LOG.error(
                "report %d refused by the distributor (%d): not sent again", record.id, status
            )
            return False
        self._failed(record, now, f"HTTP {status}")
        return False

    def _failed(self, record: Record, now: float, why: str) -> None:
        retry = self._retries.get(record.key) or _Retry(0, now)
        retry.failures += 1
        wait = backoff(retry.failures, self.uniform)
        retry.due = now + wait
        self._retries[record.key] = retry
        self.stats.failed += 1
        LOG.warning("report %d not forwarded (%s): retry in %.0f s", record.id, why, wait)
