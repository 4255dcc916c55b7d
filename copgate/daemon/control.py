"""The control socket's protocol: one JSON request in, one JSON reply out.

A client (``copgate status``, ``log``, ``stats``) connects, writes one JSON
object and a newline, and reads one JSON object until the daemon closes:

    {"command": "log", "client": "192.0.2.10", "since": 40}
    {"ok": true, "result": {...}}          or  {"ok": false, "error": "..."}

``command`` picks a handler from a table (``status``, ``log``, ``stats``; the
daemon may add more); every other key is the handler's parameter, read
with the ``param_*`` readers, which refuse a wrong type with a message
naming the key. A request is at most ``MAX_REQUEST`` bytes.

Pure: bytes in, bytes out. The socket, its permissions and its thread are
``copgate.edges.control``'s; this module never opens anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from copgate.daemon.ring import DecisionRing
from copgate.daemon.stats import MAX_TOP, TOP, ring_stats
from copgate.errors import ControlProtocolError

LOG = logging.getLogger("copgate")
MAX_REQUEST = 4096
"""Bytes a request may take: the longest filter is a name pattern (253 bytes)."""
MAX_REPLY = 64 * 1024 * 1024
"""Bytes a client reads at most: a full ring (100,000 entries) as JSON, with room."""
MAX_LOG_LIMIT = 100_000
"""Entries one ``log`` request may ask for: the ring's own bound."""
MAX_NAME = 253  # RFC 1035 §2.3.4: a name's text is at most 253 characters

Params = Mapping[str, object]
Handler = Callable[[Params], object]


@dataclass(frozen=True, slots=True)
class Request:
    """A command and its parameters, read from a client's line."""

    command: str
    params: Params


def read_request(data: bytes) -> Request:
    """The request in ``data`` (one JSON object); ``ControlProtocolError`` says what is wrong."""
    if len(data) > MAX_REQUEST:
        raise ControlProtocolError(f"request of {len(data)} bytes is over {MAX_REQUEST}")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlProtocolError(f"request is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ControlProtocolError("request is not a JSON object")
    command = raw.pop("command", None)
    if not isinstance(command, str):
        raise ControlProtocolError("request has no 'command' string")
    return Request(command, raw)


def encode_request(command: str, params: Params | None = None) -> bytes:
    """The line a client writes."""
    return json.dumps({"command": command, **(params or {})}).encode() + b"\n"


def answer(handlers: Mapping[str, Handler], data: bytes) -> bytes:
    """The reply to the request in ``data``, whatever it holds.

    A refused request gets an error reply saying why; a handler that fails
    any other way gets "internal error" (and its traceback in the log): the
    socket's thread never dies of a request.
    """
    try:
        request = read_request(data)
        handler = handlers.get(request.command)
        if handler is None:
            known = ", ".join(sorted(handlers))
            raise ControlProtocolError(f"unknown command {request.command!r} (known: {known})")
        return _reply({"ok": True, "result": handler(request.params)})
    except ControlProtocolError as exc:
        return _reply({"ok": False, "error": str(exc)})
    except Exception:
        LOG.exception("control: request failed")
        return _reply({"ok": False, "error": "internal error (see the daemon's log)"})


def read_reply(data: bytes) -> object:
    """The result in a reply; ``ControlProtocolError`` for an error reply or a malformed one."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlProtocolError(f"the daemon's reply is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("ok"), bool):
        raise ControlProtocolError("the daemon's reply has no 'ok'")
    if not raw["ok"]:
        raise ControlProtocolError(f"the daemon refused: {raw.get('error')}")
    return raw.get("result")


def _reply(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


# -- parameters -------------------------------------------------------------------------


def param_str(params: Params, key: str, max_length: int = MAX_NAME) -> str | None:
    """The string ``key``, or None when absent."""
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise ControlProtocolError(f"{key!r} must be a string of at most {max_length} characters")
    return value


def param_int(params: Params, key: str, low: int, high: int) -> int | None:
    """The integer ``key`` within ``low..high``, or None when absent."""
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ControlProtocolError(f"{key!r} must be an integer from {low} to {high}")
    return value


# -- the ring's commands ------------------------------------------------------------------


def ring_handlers(ring: DecisionRing, clock: Callable[[], float]) -> dict[str, Handler]:
    """``log`` and ``stats`` over ``ring`` (which a reload reconfigures, never replaces)."""

    def log(params: Params) -> object:
        entries = ring.entries(
            client=param_str(params, "client"),
            name=param_str(params, "name"),
            verdict=param_str(params, "verdict", 32),
            group=param_str(params, "group", 64),
            kind=param_str(params, "kind", 16),
            since=param_int(params, "since", 0, 2**63) or 0,
            limit=param_int(params, "limit", 0, MAX_LOG_LIMIT),
        )
        return {
            "entries": [entry.as_dict() for entry in entries],
            "last_seq": ring.last_seq,
            "capacity": ring.capacity,
            "keep_allowed": ring.keep_allowed,
        }

    def stats(params: Params) -> object:
        top = param_int(params, "top", 1, MAX_TOP) or TOP
        return {
            **ring_stats(ring.entries(), ring.per_minute(), clock(), top),
            "capacity": ring.capacity,
            "keep_allowed": ring.keep_allowed,
        }

    return {"log": log, "stats": stats}
