"""Exactly once under a race: the same report posted twice at the same moment is stored once.

A gateway that lost power right after an answer posts the report again; on
a service with several instances, the two posts can arrive together. Each
of two threads (each with its own database connection, committed data:
``live_db``) posts the same key at once, after a barrier; whatever the
interleaving, one is taken (202) and the other answered 409, and one row
exists. Repeated for several keys, on both backends.
"""

from __future__ import annotations

import json
import threading

from django.core.cache import cache
from django.db import connections
from django.test import Client

from copgate.distributor.curation.models import Report
from tests.distributor.api.conftest import make_gateway, report
from tests.distributor.conftest import Backend

ROUNDS = 8


def _post_together(token: str, body: dict[str, object]) -> list[int]:
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        client = Client()
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/reports",
                json.dumps(body),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(body["key"])},
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(statuses)


def test_the_same_key_posted_twice_at_once_is_stored_once(live_db: Backend) -> None:
    cache.clear()
    _, token = make_gateway("school-1")
    bodies = [report() for _ in range(ROUNDS)]
    outcomes = [_post_together(token, body) for body in bodies]
    assert outcomes == [[202, 409]] * ROUNDS
    for body in bodies:
        assert Report.objects.filter(key=body["key"]).count() == 1
