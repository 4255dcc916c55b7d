"""nfnetlink_queue messages built and read as bytes, against hand-decoded vectors.

Each vector is spaced by field and names its header. Netlink and attribute
headers are in host byte order; these vectors are written little-endian (the
machines copgate's tests run on), every nfnetlink_queue field is big-endian.
The packet vector is a real NFQNL_MSG_PACKET captured from the kernel: a UDP
datagram ``copgate`` from 198.51.100.2:40000 to port 9, on INPUT, queue 7.
"""

from __future__ import annotations

import errno
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.edges import nfqueue
from copgate.edges.nfqueue import (
    NF_ACCEPT,
    NF_DROP,
    NF_REPEAT,
    NLMSG_ERROR,
    PACKET,
    Message,
    NetlinkError,
    QueueCounters,
    QueuedPacket,
    batch_verdict_message,
    bind_message,
    mac_text,
    read_error,
    read_messages,
    read_packet,
    read_proc_counters,
    single_packet,
    unbind_message,
    verdict_message,
)

if sys.byteorder != "little":  # pragma: no cover - the vectors' host-order fields
    pytest.fail("these vectors write netlink's host-order fields little-endian")


def vector(text: str) -> bytes:
    """Hex with single spaces between fields; two spaces start a comment to the line's end."""
    lines = (line.strip().split("  ")[0] for line in text.splitlines())
    return bytes.fromhex("".join("".join(lines).split()))


CAPTURED_PACKET = vector(
    """
    5f000000 0003 0000 00000000 00000000   nlmsghdr: 95 bytes, NFNL_SUBSYS_QUEUE<<8|PACKET
    02 00 0007                             nfgenmsg: AF_INET, NFNETLINK_V0, queue 7
    0b00 0100 00000001 0800 01 00          NFQA_PACKET_HDR: id 1, ETH_P_IP, NF_INET_LOCAL_IN
    0800 0500 00000002                     NFQA_IFINDEX_INDEV: 2
    1000 0900 0006 0000 020000000002 0000  NFQA_HWADDR: 6 bytes, 02:00:00:00:00:02
    2700 0a00                              NFQA_PAYLOAD: 35 bytes (no padding: last)
    45000023 06754000 4011dfea c6336402 c6336401   IPv4 198.51.100.2 > 198.51.100.1
    9c40 0009 000f 74d0                    UDP 40000 > 9
    636f7067617465                         "copgate"
    """
)


def test_bind_message_sets_copy_mode_length_and_fail_open_in_one_acked_message() -> None:
    assert bind_message(7, seq=1, max_len=4096, fail_open=True) == vector(
        """
        40000000 0203 0500 01000000 00000000  nlmsghdr: 64, QUEUE<<8|CONFIG, REQUEST|ACK, seq 1
        00 00 0007                            nfgenmsg: AF_UNSPEC, V0, queue 7
        0800 0100 01 00 0000                  NFQA_CFG_CMD: BIND, pf AF_UNSPEC
        0900 0200 0000ffff 02 000000          NFQA_CFG_PARAMS: range 65535, COPY_PACKET, pad
        0800 0300 00001000                    NFQA_CFG_QUEUE_MAXLEN: 4096
        0800 0400 00000001                    NFQA_CFG_MASK: F_FAIL_OPEN
        0800 0500 00000001                    NFQA_CFG_FLAGS: F_FAIL_OPEN
        """
    )


def test_bind_message_fail_closed_clears_the_flag_under_its_mask() -> None:
    message = bind_message(3, seq=9, max_len=16, fail_open=False)
    assert message[-16:] == vector(
        """
        0800 0400 00000001  NFQA_CFG_MASK: F_FAIL_OPEN (the flag we change)
        0800 0500 00000000  NFQA_CFG_FLAGS: cleared
        """
    )
    assert message[40:48] == vector("0800 0300 00000010")  # NFQA_CFG_QUEUE_MAXLEN: 16


def test_unbind_message_asks_no_ack() -> None:
    assert unbind_message(7, seq=2) == vector(
        """
        1c000000 0203 0100 02000000 00000000
        00 00 0007
        0800 0100 02 00 0000
        """
    )


def test_verdict_with_mark_carries_both_attributes() -> None:
    assert verdict_message(7, 0x01020304, NF_REPEAT, 0x10000001) == vector(
        """
        28000000 0103 0100 00000000 00000000
        00 00 0007
        0c00 0200 00000004 01020304
        0800 0300 10000001
        """
    )


def test_plain_verdicts_carry_no_mark() -> None:
    assert verdict_message(7, 5, NF_ACCEPT) == vector(
        """
        20000000 0103 0100 00000000 00000000
        00 00 0007
        0c00 0200 00000001 00000005
        """
    )
    assert verdict_message(300, 6, NF_DROP)[16:] == vector("00 00 012c 0c00 0200 00000000 00000006")


def test_batch_verdict_names_the_last_id_it_covers() -> None:
    assert batch_verdict_message(7, 0xFFFFFFFF, NF_ACCEPT) == vector(
        """
        20000000 0303 0100 00000000 00000000
        00 00 0007
        0c00 0200 00000001 ffffffff
        """
    )


def test_a_captured_packet_reads_id_interface_mac_and_payload() -> None:
    (message,) = read_messages(CAPTURED_PACKET)
    assert message == Message(PACKET, 0, 0, 95)
    packet = read_packet(CAPTURED_PACKET, message.start, message.end)
    assert packet == QueuedPacket(1, CAPTURED_PACKET[60:], 0, 2, vector("020000000002"))
    assert packet.payload.endswith(b"copgate")
    assert mac_text(packet.hwaddr) == "02:00:00:00:00:02"


def test_mark_attribute_is_read_and_unknown_attributes_skipped() -> None:
    body = vector(
        """
        0b00 0100 0000002a 0800 03 00          NFQA_PACKET_HDR: id 42
        0800 0300 00000105                     NFQA_MARK: 0x105
        0c00 0400 00000000 00000000            NFQA_TIMESTAMP (skipped)
        0500 0a00 45 000000                    NFQA_PAYLOAD: 1 byte, padded
        """
    )
    data = vector("00000000 0003 0000 00000000 00000000 02 00 0007") + body
    data = (len(data)).to_bytes(4, "little") + data[4:]
    (message,) = read_messages(data)
    assert read_packet(data, message.start, message.end) == QueuedPacket(42, b"\x45", 0x105, 0, b"")


def test_two_messages_in_one_datagram_are_both_found_past_padding() -> None:
    ack = vector("24000000 0200 0001 05000000 00000000 00000000") + bytes(16)
    refusal = vector("24000000 0200 0000 06000000 00000000 ffffffff") + bytes(16)
    messages = list(read_messages(ack + refusal))
    assert [(m.msg_type, m.seq) for m in messages] == [(NLMSG_ERROR, 5), (NLMSG_ERROR, 6)]
    assert read_error(ack + refusal, messages[0]) == 0
    assert read_error(ack + refusal, messages[1]) == errno.EPERM


def test_a_lone_packet_datagram_is_recognised_for_the_fast_path() -> None:
    assert single_packet(CAPTURED_PACKET, len(CAPTURED_PACKET))
    assert single_packet(CAPTURED_PACKET + bytes(40), len(CAPTURED_PACKET))  # the reused buffer
    assert not single_packet(CAPTURED_PACKET + CAPTURED_PACKET[:20], len(CAPTURED_PACKET) + 20)
    ack = vector("24000000 0200 0001 05000000 00000000 00000000") + bytes(16)
    assert not single_packet(ack, len(ack))
    assert not single_packet(CAPTURED_PACKET[:10], 10)


def test_read_messages_stops_at_size() -> None:
    data = CAPTURED_PACKET + b"\xff" * 40
    assert len(list(read_messages(data, len(CAPTURED_PACKET)))) == 1


@pytest.mark.parametrize("cut", [1, 15, 16, 40, 94])
def test_a_truncated_message_is_a_netlink_error(cut: int) -> None:
    with pytest.raises(NetlinkError):
        list(read_messages(CAPTURED_PACKET[:cut]))


def test_a_packet_without_its_header_attribute_is_a_netlink_error() -> None:
    data = vector("14000000 0003 0000 00000000 00000000 02 00 0007")
    (message,) = read_messages(data)
    with pytest.raises(NetlinkError, match="NFQA_PACKET_HDR"):
        read_packet(data, message.start, message.end)


def test_an_attribute_overrunning_its_message_is_a_netlink_error() -> None:
    data = bytearray(CAPTURED_PACKET)
    data[56:58] = (200).to_bytes(2, "little")  # NFQA_PAYLOAD claims 200 bytes
    (message,) = read_messages(data)
    with pytest.raises(NetlinkError, match="overruns"):
        read_packet(data, message.start, message.end)


@given(st.binary(max_size=200))
def test_random_bytes_read_or_raise_netlink_error_only(data: bytes) -> None:
    try:
        for message in read_messages(data):
            if message.msg_type == PACKET:
                read_packet(data, message.start, message.end)
            elif message.msg_type == NLMSG_ERROR:
                read_error(data, message)
    except NetlinkError:
        pass


@given(st.integers(min_value=0, max_value=len(CAPTURED_PACKET)), st.binary(max_size=8))
def test_a_cut_or_spliced_capture_reads_or_raises_netlink_error_only(cut: int, junk: bytes) -> None:
    data = CAPTURED_PACKET[:cut] + junk + CAPTURED_PACKET[cut + len(junk) :]
    try:
        for message in read_messages(data):
            read_packet(data, message.start, message.end)
    except NetlinkError:
        pass


def test_mac_text_needs_six_bytes() -> None:
    assert mac_text(vector("0a1b2c3d4e5f 0000")) == "0a:1b:2c:3d:4e:5f"
    assert mac_text(b"\x01\x02") is None
    assert mac_text(b"") is None


PROC = (
    "    0   2841     0 2 65535     0     0        0  1\n"
    "    7   1234     3 2 65535   412   115      990  1\n"
)


def test_proc_counters_of_one_queue() -> None:
    assert read_proc_counters(PROC, 7) == QueueCounters(7, 1234, 3, 2, 65535, 412, 115, 990)
    assert read_proc_counters(PROC, 0) == QueueCounters(0, 2841, 0, 2, 65535, 0, 0, 0)


def test_proc_counters_of_an_unbound_queue_or_odd_lines_are_none() -> None:
    assert read_proc_counters(PROC, 3) is None
    assert read_proc_counters("", 7) is None
    assert read_proc_counters("garbage line here\n7 1 2\n", 7) is None


def test_constants_match_the_kernel_headers() -> None:
    # linux/netfilter/nfnetlink.h, nfnetlink_queue.h, netfilter.h, netlink.h
    assert PACKET == 0x0300
    assert (NF_DROP, NF_ACCEPT, NF_REPEAT) == (0, 1, 4)
    assert nfqueue.NETLINK_NO_ENOBUFS == 5
    assert nfqueue.NFQA_CFG_F_FAIL_OPEN == 1
    assert nfqueue.NLA_TYPE_MASK == 0x3FFF
