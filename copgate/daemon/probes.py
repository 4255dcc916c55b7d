"""What ``copgate status`` shows on behalf of other parts of the gateway.

Two facts in the status belong to other parts of copgate, which report them
here when they learn them; until one does, the status shows ``unknown``:

- ``report_update``: the list updater's last check and its result (installed
  release N, no news, refused and why, unreachable: keeping release N), as
  JSON-ready values, after each check;
- ``report_offload``: whether the router's firewall offloads established
  flows (OpenWrt's ``flow_offloading``, a flowtable in the ruleset), which
  would let undecided flows bypass the queue, when the firewall backend
  finds out (at start, after a reload).

``last_update`` and ``flow_offload`` are read by the control socket's
thread; a report is one assignment of an immutable value, so a reader sees
the old fact or the new one, never half of one.

It holds two facts; it never finds either out itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

UNKNOWN = "unknown"
"""What the status shows for a fact no part of copgate has reported."""

_update: Mapping[str, object] | None = None
_offload: bool | None = None


def report_update(result: Mapping[str, object]) -> None:
    """The updater's latest result (``{"result": "installed", "release": 43, ...}``)."""
    global _update  # noqa: PLW0603 - one fact, replaced whole
    _update = MappingProxyType(dict(result))


def report_offload(on: bool) -> None:
    """Whether flow offloading is on, as the firewall backend found it."""
    global _offload  # noqa: PLW0603 - one fact, replaced whole
    _offload = on


def last_update() -> dict[str, object] | None:
    """The updater's last result, or None when none was reported."""
    return None if _update is None else dict(_update)


def flow_offload() -> bool | None:
    """True when flow offloading is on, False when off, None when not reported."""
    return _offload


def forget() -> None:
    """Back to unknown (a test's clean slate)."""
    global _update, _offload  # noqa: PLW0603
    _update = _offload = None
