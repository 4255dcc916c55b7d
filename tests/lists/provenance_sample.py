"""A provenance.json as the curation service writes it, for the gateway side's tests.

The field set and layout follow ``copgate.distributor.curation.assemble``
(``Assembled.provenance``: indent 1, entries and removals sorted by name).
The service's own output is read by ``tests/distributor/curation`` tests;
these tests need no database.
"""

from __future__ import annotations

import json
from typing import Any

UT1_SHA256 = "5f" * 32


def decision(name: str, proposal: int, action: str, **fields: Any) -> dict[str, Any]:
    """A curated entry or removal made by ``proposal`` (erin proposed, ada approved)."""
    return {
        "name": name,
        "list": "default",
        "kind": "block",
        "proposal": proposal,
        "action": action,
        "expert": "erin",
        "approver": "ada",
        "approved": "2026-12-05T09:30:00+00:00",
        **fields,
    }


def sample_document() -> dict[str, Any]:
    return {
        "format": 1,
        "release": 7,
        "sources": [
            {
                "name": "ut1",
                "url": "https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz",
                "format": "ut1",
                "sha256": UT1_SHA256,
                "fetched": "2026-12-05T03:00:00+00:00",
                "categories": ["adult", "gambling"],
            },
            {
                "name": "local-ads",
                "url": None,
                "format": "hosts",
                "sha256": "",
                "fetched": None,
                "categories": ["ads"],
            },
        ],
        "entries": [
            decision("casino.example", 12, "add", category="gambling"),
            decision("news.example", 14, "recategorise", category="news"),
            decision("school.example", 15, "add", category="starter_whitelist", kind="allow"),
            {
                "name": "own.example",
                "category": "adult",
                "list": "default",
                "kind": "block",
                "proposal": None,
            },
        ],
        "removed": [
            decision("news.example", 14, "recategorise"),
            decision("wrongly.example", 13, "remove"),
        ],
    }


def sample_bytes(document: dict[str, Any] | None = None) -> bytes:
    text = json.dumps(document or sample_document(), ensure_ascii=False, indent=1)
    return (text + "\n").encode("utf-8")
