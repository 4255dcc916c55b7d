"""What ``copgate status`` asks other parts of the gateway, each behind one function.

Two facts the status shows belong to other parts of copgate:

- ``last_update``: the list updater's last check and its result (installed
  release N, no news, refused and why, unreachable). The updater replaces
  this function's body; until then the status shows ``unknown``.
- ``flow_offload``: whether the router's firewall offloads established flows
  (OpenWrt's ``flow_offloading``), which would let undecided flows bypass
  the queue. The firewall backend replaces this function's body; until then
  the status shows ``unknown``.

Each is called from the control socket's thread, at most once per status
request: it may read a small file, never block for long, and never raise
(an error is reported in what it returns).
"""

from __future__ import annotations

UNKNOWN = "unknown"
"""What the status shows for a fact no part of copgate has reported."""


def last_update() -> dict[str, object] | None:
    """The updater's last result as JSON-ready values, or None when unknown."""
    return None


def flow_offload() -> bool | None:
    """True when flow offloading is on, False when off, None when not known."""
    return None
