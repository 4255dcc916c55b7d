"""The request queue keeps whole records across restarts and cuts, and stays bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copgate.requests import store as store_module
from copgate.requests.store import (
    MAX_COMMENT,
    QueueFullError,
    RecordKind,
    Store,
    StoreError,
)

NOW = 1_800_000_000.0


def test_a_record_is_read_back_whole_by_a_new_store(tmp_path: Path) -> None:
    first = Store(tmp_path)
    record = first.add(
        RecordKind.MISTAKE,
        "school.example",
        "kids",
        "192.0.2.10",
        NOW,
        comment="we need it for homework",
        category="games",
        list_name="default",
        reason="category",
    )
    (entry,) = Store(tmp_path).entries()
    assert entry.record == record
    assert (record.id, len(record.key)) == (1, 32)
    assert entry.open and not entry.sent and entry.closed is None


def test_ids_count_up_and_keys_differ(tmp_path: Path) -> None:
    store = Store(tmp_path)
    records = [store.add(RecordKind.SITE, f"s{n}.example", "kids", "c", NOW) for n in range(3)]
    assert [r.id for r in records] == [1, 2, 3]
    assert len({r.key for r in records}) == 3


def test_close_and_sent_are_kept_beside_the_record(tmp_path: Path) -> None:
    store = Store(tmp_path)
    access = store.add(RecordKind.ACCESS, "a.example", "kids", "c", NOW)
    report = store.add(RecordKind.MISTAKE, "b.example", "kids", "c", NOW)
    store.close(access.id, "denied")
    store.mark_sent(report.id)
    states = {e.record.id: (e.closed, e.sent, e.open) for e in Store(tmp_path).entries()}
    assert states == {access.id: ("denied", False, False), report.id: (None, True, False)}


def test_closing_a_request_that_does_not_exist_names_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no request 9"):
        Store(tmp_path).close(9, "denied")


def test_long_fields_are_cut(tmp_path: Path) -> None:
    record = Store(tmp_path).add(
        RecordKind.ACCESS, "a" * 400, "g" * 400, "c", NOW, comment="x" * 5000
    )
    assert (len(record.name), len(record.group), len(record.comment)) == (253, 120, MAX_COMMENT)


def test_a_full_queue_drops_finished_records_first_then_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_RECORDS", 3)
    store = Store(tmp_path)
    first = store.add(RecordKind.ACCESS, "1.example", "kids", "c", NOW)
    store.add(RecordKind.ACCESS, "2.example", "kids", "c", NOW)
    store.add(RecordKind.ACCESS, "3.example", "kids", "c", NOW)
    store.close(first.id, "granted")
    store.add(RecordKind.ACCESS, "4.example", "kids", "c", NOW)
    assert [e.record.name for e in store.entries()] == ["2.example", "3.example", "4.example"]
    assert not any(name.startswith("1.") for name in os.listdir(tmp_path))
    with pytest.raises(QueueFullError):
        store.add(RecordKind.ACCESS, "5.example", "kids", "c", NOW)


def test_a_file_put_there_by_hand_is_skipped(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add(RecordKind.ACCESS, "a.example", "kids", "c", NOW)
    (tmp_path / "7.json").write_text("{not json")
    (tmp_path / "8.json").write_text('{"id": 8}')
    assert [e.record.name for e in store.entries()] == ["a.example"]
    assert store.add(RecordKind.ACCESS, "b.example", "kids", "c", NOW).id == 9


def test_stale_temporaries_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-stale"
    fresh = tmp_path / ".tmp-fresh"
    for path in (stale, fresh):
        path.write_bytes(b'{"half')
    os.utime(stale, (NOW - 3600, NOW - 3600))
    os.utime(fresh, (NOW, NOW))
    assert Store(tmp_path, NOW).entries() == []
    assert sorted(os.listdir(tmp_path)) == [".tmp-fresh"]


WRITER = """
import sys, time
from pathlib import Path
from copgate.requests.store import RecordKind, Store
store = Store(Path(sys.argv[1]))
n = 0
while True:
    store.add(RecordKind.MISTAKE, f"n{n}.example", "kids", "192.0.2.10", time.time(),
              comment="x" * 400)
    n += 1
    if n == 3:
        print("ready", flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.21])
def test_a_writer_killed_mid_write_leaves_only_whole_records(tmp_path: Path, delay: float) -> None:
    """kill -9 at a random point of a loop of writes: every record there reads back whole,
    ids have no duplicates, and the next store numbers on from the last."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    records = [name for name in os.listdir(tmp_path) if name.endswith(".json")]
    store = Store(tmp_path, time.time() + 3600)
    entries = store.entries()
    assert len(entries) == len(records) >= 3
    assert all(e.record.comment == "x" * 400 for e in entries)
    assert [e.record.id for e in entries] == list(range(1, len(entries) + 1))
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert store.add(RecordKind.SITE, "next.example", "kids", "c", NOW).id == len(entries) + 1
