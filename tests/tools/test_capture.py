"""The pcap/pcapng reader: the same frames as scapy, and damage caught.

scapy is the independent reader here: every real capture must give exactly
the frames scapy gives. A truncated or corrupted file must raise
``CaptureError`` naming the file, never another exception, and never lose
the frames before the damage.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from copgate.errors import CaptureError
from copgate.tools.capture import read_capture
from copgate.tools.samples import write_sample_capture
from tests.conftest import shared_data


@pytest.mark.shared_data
def test_every_real_capture_gives_the_frames_scapy_gives() -> None:
    from scapy.utils import RawPcapNgReader, RawPcapReader

    logging.getLogger("scapy").setLevel(logging.ERROR)
    paths = sorted(shared_data("captures").glob("*.pcap*"))
    assert len(paths) == 27
    for path in paths:
        mine = [frame.data for frame in read_capture(path)]
        with path.open("rb") as handle:
            ng = handle.read(4) == b"\x0a\x0d\x0d\x0a"
        reader = RawPcapNgReader(str(path)) if ng else RawPcapReader(str(path))
        with reader:
            theirs = [bytes(data) for data, _meta in reader]
        assert mine == theirs, path.name


@pytest.mark.shared_data
def test_pcapng_link_types_and_times_come_from_the_interface_block() -> None:
    frames = list(read_capture(shared_data("captures/quic-v2.pcapng")))
    assert {frame.linktype for frame in frames} == {113}  # Linux cooked capture
    assert 1.6e9 < frames[0].time < 1.7e9


def test_every_truncation_of_a_capture_is_an_error_or_a_prefix(tmp_path: Path) -> None:
    whole = tmp_path / "sample.pcap"
    write_sample_capture(whole)
    data = whole.read_bytes()
    frames = [frame.data for frame in read_capture(whole)]
    cut = tmp_path / "cut.pcap"
    for end in range(len(data)):
        cut.write_bytes(data[:end])
        got: list[bytes] = []
        try:
            got.extend(frame.data for frame in read_capture(cut))
        except CaptureError as exc:
            assert str(cut) in str(exc)
        assert got == frames[: len(got)]


@pytest.mark.shared_data
def test_corrupted_pcapng_files_raise_only_capture_errors(tmp_path: Path) -> None:
    rng = random.Random(5)
    data = shared_data("captures/tls_ech.pcapng").read_bytes()
    broken = tmp_path / "broken.pcapng"
    for _ in range(2000):
        buf = bytearray(data)
        for _ in range(3):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        broken.write_bytes(bytes(buf[: rng.randrange(len(buf) + 1)]))
        try:
            for _frame in read_capture(broken):
                pass
        except CaptureError as exc:
            assert str(broken) in str(exc)


def test_a_missing_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"nothing\.pcap"):
        list(read_capture(tmp_path / "nothing.pcap"))
