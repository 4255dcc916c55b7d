"""DNS questions over UDP and TCP, and hostile names as wire errors (RFC 1035)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.errors import WireError
from copgate.wire import dns as wire_dns
from copgate.wire.dns import read_dns_message, read_dns_tcp
from copgate.wire.names import name_from_labels
from tests.wire.builders import dns_query

HEADER_ONE_QUESTION = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)


def test_a_query_with_edns() -> None:
    query = read_dns_message(dns_query("WWW.Example.COM", qtype=65, msg_id=7, edns=1232))
    assert query.name.text == "www.example.com" and query.name.valid
    assert (query.qtype, query.qclass, query.msg_id) == (65, 1, 7)
    assert query.edns_udp_size == 1232 and not query.response


def test_a_pointer_back_to_the_start_of_its_own_name_is_a_loop_and_refused() -> None:
    # Name at offset 12: label "a", then a pointer to offset 12, which reads "a" again.
    message = HEADER_ONE_QUESTION + b"\x01a\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(WireError, match="more than 32"):
        read_dns_message(message)


def test_a_pointer_to_itself_is_a_loop_and_refused() -> None:
    message = HEADER_ONE_QUESTION + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(WireError, match="more than 32"):
        read_dns_message(message)


def test_a_pointer_forward_to_a_name_after_the_question_is_read_as_servers_read_it() -> None:
    # dnsmasq resolves this question: copgate must judge the name it leads to.
    name = b"\x06casino\x07example\x00"
    message = HEADER_ONE_QUESTION + b"\xc0\x12" + struct.pack("!HH", 1, 1) + name
    query = read_dns_message(message)
    assert query.name.text == "casino.example" and query.qtype == 1


def test_a_pointer_to_an_earlier_name_in_the_additional_section_is_read() -> None:
    base = dns_query("example.org", edns=None)
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 1)
    # An additional record whose owner name is a pointer back to the question name.
    record = b"\xc0\x0c" + struct.pack("!HHIH", 41, 4096, 0, 0)
    query = read_dns_message(header + base[12:] + record)
    assert query.edns_udp_size == 4096


@pytest.mark.parametrize(
    ("name_wire", "message"),
    [
        (b"\xc0\x20", "past the end"),  # a pointer past the message
        (b"\x40abc\x00", "label type"),  # RFC 6891 §5 extended label
        (b"\x05ab", "passes the message end"),
        (b"\x03abc", "cut"),
        (
            b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"b" * 63
            + b"\x3f"
            + b"c" * 63
            + b"\x3f"
            + b"d" * 63
            + b"\x00",
            "longer than 255",
        ),
    ],
)
def test_hostile_names_are_wire_errors(name_wire: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        read_dns_message(HEADER_ONE_QUESTION + name_wire + struct.pack("!HH", 1, 1))


def test_a_label_of_64_octets_cannot_be_encoded() -> None:
    # 64 = 0x40 sets the extended-label bits: RFC 1035's 63-octet limit by construction.
    with pytest.raises(WireError):
        read_dns_message(HEADER_ONE_QUESTION + b"\x40" + b"a" * 64 + b"\x00" + b"\x00\x01\x00\x01")


def test_a_name_of_255_octets_is_accepted_and_marked_invalid_as_text() -> None:
    labels = b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63 + b"\x3d" + b"d" * 61
    query = read_dns_message(HEADER_ONE_QUESTION + labels + b"\x00\x00\x01\x00\x01")
    assert len(query.name.text) == 253 and query.name.valid


def test_question_counts_other_than_one_are_refused() -> None:
    message = struct.pack("!HHHHHH", 1, 0x0100, 2, 0, 0, 0) + b"\x00\x00\x01\x00\x01" * 2
    with pytest.raises(WireError, match="2 questions"):
        read_dns_message(message)


def test_control_bytes_in_a_label_give_an_invalid_escaped_name() -> None:
    message = HEADER_ONE_QUESTION + b"\x04a\x07bc\x07example\x00\x00\x01\x00\x01"
    name = read_dns_message(message).name
    assert not name.valid and name.text == "a\\x07bc.example" and name.reason == "control bytes"


def test_a_dot_inside_a_label_is_invalid() -> None:
    name = read_dns_message(HEADER_ONE_QUESTION + b"\x03a.b\x03com\x00\x00\x01\x00\x01").name
    assert not name.valid and name.reason == "a label contains a dot"


def test_tcp_framing_gives_complete_messages_and_what_they_used() -> None:
    one, two = dns_query("a.example"), dns_query("b.example")
    stream = len(one).to_bytes(2, "big") + one + len(two).to_bytes(2, "big") + two[:5]
    queries, used = read_dns_tcp(stream)
    assert [q.name.text for q in queries] == ["a.example"]
    assert used == 2 + len(one)
    with pytest.raises(WireError, match="too short"):
        read_dns_tcp(b"\x00\x03abc")


def test_a_query_cut_in_its_question_is_a_wire_error_and_after_it_loses_only_edns() -> None:
    message = dns_query("www.example.com", edns=512)
    question_end = len(message) - 11  # the OPT record is the last 11 bytes
    for end in range(len(message)):
        if end < question_end:
            with pytest.raises(WireError):
                read_dns_message(message[:end])
            continue
        # A server reads the question of a message whose OPT record is cut (or
        # missing, though ARCOUNT counts it) and answers: copgate judges it too.
        query = read_dns_message(message[:end])
        assert query.name.text == "www.example.com" and query.edns_udp_size is None
    assert read_dns_message(message).edns_udp_size == 512


def test_records_after_the_question_that_cannot_be_read_leave_the_question() -> None:
    question = dns_query("casino.example")
    counted = question[:10] + b"\x00\x02" + question[12:]  # two additional records, none there
    assert read_dns_message(counted).name.text == "casino.example"
    cut_rr = question[:6] + b"\x00\x01" + question[8:] + b"\x07example"  # an answer RR cut
    assert read_dns_message(cut_rr).edns_udp_size is None


LABEL = st.one_of(
    st.binary(min_size=1, max_size=63),
    st.text(alphabet="abcXYZ09-_.", min_size=1, max_size=63).map(str.encode),
)


@settings(max_examples=300, deadline=None)
@given(labels=st.lists(LABEL, min_size=0, max_size=8))
def test_the_question_fast_path_reads_what_the_full_reader_reads(labels: list[bytes]) -> None:
    # Any plain name the fast path steps over: dots, NULs, upper case and
    # non-ASCII bytes inside labels, up to the wire limit; read cold (memo empty).
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    message = HEADER_ONE_QUESTION + wire + struct.pack("!HH", 1, 1)
    wire_dns._WIRE_NAMES.clear()
    try:
        query = read_dns_message(message)
    except WireError:
        assert len(wire) > wire_dns.MAX_NAME_WIRE  # the full reader refuses it too
        with pytest.raises(WireError, match="longer than"):
            wire_dns._read_name(message, wire_dns.HEADER_SIZE)
        return
    full, _end = wire_dns._read_name(message, wire_dns.HEADER_SIZE)
    assert query.name == name_from_labels(full)
