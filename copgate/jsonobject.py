"""``unique_keys``: the ``object_pairs_hook`` that refuses a JSON object naming a key twice.

RFC 8259 §4 leaves a repeated name's meaning to the reader, and readers
disagree (the first or the last wins): a document one tool reads one way and
another tool the other way is refused instead. For ``json.loads``; pure.
"""

from __future__ import annotations

from typing import Any


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object's members as a dict; ValueError (which ``json.loads`` callers catch
    as a bad document) at a key seen twice."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document
