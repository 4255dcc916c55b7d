"""copgate.daemon.control: one JSON request, one JSON reply, and nothing kills the answerer."""

from __future__ import annotations

import json
import logging

import pytest

from copgate.daemon.control import (
    MAX_REQUEST,
    Params,
    answer,
    encode_request,
    read_reply,
    read_request,
    ring_handlers,
)
from copgate.daemon.ring import DecisionRing
from copgate.errors import ControlProtocolError

NOW = 60.0 * 30_000_000 + 30  # half a minute into minute 30,000,000


def _ring() -> DecisionRing:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    for i, (client, name, verdict) in enumerate(
        [
            ("192.0.2.10", "www.example.org", "allow"),
            ("192.0.2.10", "casino.example", "block"),
            ("192.0.2.11", "casino.example", "block"),
            ("192.0.2.11", "adult.example", "block"),
        ]
    ):
        ring.record(
            time=NOW - 10 + i,
            client=client,
            group="pupils",
            kind="dns",
            name=name,
            verdict=verdict,
            reason="why",
            category="gambling" if name.startswith("casino") else None,
        )
    return ring


def _ask(command: str, **params: object) -> object:
    return read_reply(answer(ring_handlers(_ring(), lambda: NOW), encode_request(command, params)))


def test_a_request_round_trips() -> None:
    request = read_request(encode_request("log", {"client": "192.0.2.10", "since": 3}))
    assert (request.command, dict(request.params)) == ("log", {"client": "192.0.2.10", "since": 3})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "request is not JSON"),
        (b"\xff\xfe", "request is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"since": 1}', "no 'command' string"),
        (b'{"command": 5}', "no 'command' string"),
        (b'{"command": "log", "x": "' + b"a" * MAX_REQUEST + b'"}', "over 4096"),
    ],
)
def test_a_bad_request_is_refused_saying_why(data: bytes, message: str) -> None:
    with pytest.raises(ControlProtocolError, match=message):
        read_request(data)
    reply = json.loads(answer({}, data))
    assert reply["ok"] is False and message in reply["error"]


def test_an_unknown_command_names_the_known_ones() -> None:
    with pytest.raises(
        ControlProtocolError, match=r"unknown command 'reboot' \(known: log, stats\)"
    ):
        _ask("reboot")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "3"}, "'since' must be an integer"),
        ({"since": -1}, "'since' must be an integer from 0"),
        ({"limit": True}, "'limit' must be an integer"),
        ({"client": 5}, "'client' must be a string"),
        ({"name": "a" * 254}, "'name' must be a string of at most 253"),
    ],
)
def test_bad_parameters_are_refused_naming_the_key(params: dict[str, object], message: str) -> None:
    with pytest.raises(ControlProtocolError, match=message):
        _ask("log", **params)


def test_log_filters_like_the_ring() -> None:
    result = _ask("log", client="192.0.2.11", since=0)
    assert isinstance(result, dict)
    assert [e["name"] for e in result["entries"]] == ["casino.example", "adult.example"]
    assert (result["last_seq"], result["capacity"], result["keep_allowed"]) == (4, 100, True)
    result = _ask("log", name="casino.example", verdict="block", limit=1)
    assert isinstance(result, dict)
    assert [(e["seq"], e["client"]) for e in result["entries"]] == [(3, "192.0.2.11")]


def test_stats_counts_the_ring() -> None:
    result = _ask("stats", top=1)
    assert isinstance(result, dict)
    assert result["top_blocked_names"] == [{"name": "casino.example", "count": 2}]
    assert result["blocked"] == 3 and result["decisions"] == 4


def test_a_handler_that_fails_gets_an_internal_error_reply_and_a_logged_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_params: Params) -> object:
        raise KeyError("bug")

    with caplog.at_level(logging.ERROR, logger="copgate"):
        reply = json.loads(answer({"status": broken}, encode_request("status")))
    assert reply == {"ok": False, "error": "internal error (see the daemon's log)"}
    assert "control: request failed" in caplog.text and "KeyError" in caplog.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b'{"ok": false, "error": "nope"}', "the daemon refused: nope"),
        (b'{"result": 1}', "has no 'ok'"),
    ],
)
def test_a_bad_or_refusing_reply_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(ControlProtocolError, match=message):
        read_reply(data)
