"""copgate.firewall.iptables: the rules as iptables arguments and restore text.

The texts are checked as text (order, matches, verdicts), and the "segment
carries data" matches are checked by evaluating them the way the kernel
does (xt_u32's algorithm) over every header length. The lab's edge tests
load these rules into a real kernel.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import struct

from copgate.firewall import (
    CHAIN,
    FILTER_CHAINS,
    FORWARD_CHAIN,
    MAX_QUEUE_RATE,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    RAW_CHAIN,
    RAW_HOOKS,
    REFUSE_CHAIN,
    REPLY_CHAIN,
    Family,
    WhenAbsent,
    hashlimit_name,
    jump_changes,
    render_iptables,
)
from tests.firewall.helpers import FAILING, FULL, PAYLOADS, SPEC, iptables_rules, with_comment

# -- iptables ------------------------------------------------------------------


def test_iptables_default_rules_exactly() -> None:
    assert iptables_rules(SPEC, Family.IPV4) == [
        # In from a LAN interface, forwarded: the refusals, then the queue.
        "-A COPGATE-FORWARD -j COPGATE-REFUSE",
        "-A COPGATE-FORWARD -g COPGATE",
        "-A COPGATE -m mark --mark 0x20000000/0x20000000 -m comment --comment 'copgate: "
        "injected by copgate' -j RETURN",
        "-A COPGATE -m mark --mark 0x40000000/0x40000000 -m comment --comment 'copgate: flow "
        "decided' -j CONNMARK --set-xmark 0x40000000/0x40000000",
        "-A COPGATE -m mark --mark 0x40000000/0x40000000 -m comment --comment 'copgate: flow "
        "decided' -j RETURN",
        "-A COPGATE -p tcp --dport 443 -m conntrack --ctdir ORIGINAL -m connmark '!' --mark "
        "0x40000000/0x40000000 -m comment --comment 'copgate: tls' -g COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 443 -m comment --comment 'copgate: tls, nothing to judge' -j"
        " RETURN",
        "-A COPGATE -p tcp --dport 80 --syn -m comment --comment 'copgate: http syn' -g "
        "COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 80 -m conntrack --ctdir ORIGINAL -m u32 --u32 "
        "'0>>24&0xF=5&&32>>26&0x3C@17=0:0xFFFFFFFF' -m comment --comment 'copgate: http' -g "
        "COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 80 -m conntrack --ctdir ORIGINAL -m u32 '!' --u32 "
        "'0>>24&0xF=5' -m comment --comment 'copgate: http' -g COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 80 -m comment --comment 'copgate: http, nothing to judge' -j"
        " RETURN",
        "-A COPGATE -p udp --dport 443 -m conntrack --ctdir ORIGINAL -m connmark '!' --mark "
        "0x40000000/0x40000000 -m comment --comment 'copgate: quic' -g COPGATE-QUEUE",
        "-A COPGATE -p udp --dport 443 -m comment --comment 'copgate: quic, nothing to judge' "
        "-j RETURN",
        "-A COPGATE -p udp --dport 53 -m comment --comment 'copgate: dns udp' -g COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 53 --syn -m comment --comment 'copgate: dns tcp syn' -g "
        "COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 53 -m u32 --u32 '0>>24&0xF=5&&32>>26&0x3C@17=0:0xFFFFFFFF' "
        "-m comment --comment 'copgate: dns tcp' -g COPGATE-QUEUE",
        "-A COPGATE -p tcp --dport 53 -m u32 '!' --u32 '0>>24&0xF=5' -m comment --comment "
        "'copgate: dns tcp' -g COPGATE-QUEUE",
        "-A COPGATE-QUEUE -m comment --comment 'copgate: fails open' -g COPGATE-OPEN",
        "-A COPGATE-OPEN -m comment --comment 'copgate: over the client rate'"
        " -m hashlimit --hashlimit-above 300/sec --hashlimit-burst 600 --hashlimit-mode srcip"
        " --hashlimit-htable-max 65535 --hashlimit-htable-expire 10000"
        " --hashlimit-name cgo300-600 -g COPGATE-EXCESS",
        "-A COPGATE-OPEN -m comment --comment 'copgate: queue 0'"
        " -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE-CLOSED -m comment --comment 'copgate: over the client rate'"
        " -m hashlimit --hashlimit-above 300/sec --hashlimit-burst 600 --hashlimit-mode srcip"
        " --hashlimit-htable-max 65535 --hashlimit-htable-expire 10000"
        " --hashlimit-name cgc300-600 -g COPGATE-EXCESS",
        "-A COPGATE-CLOSED -m comment --comment 'copgate: queue 1' -j NFQUEUE --queue-num 1",
        # Over the rate: the client's evasion treatment (by default: dropped).
        "-A COPGATE-EXCESS -m comment --comment 'copgate: over the rate, dropped' -j DROP",
        # Servers' SYN-ACKs of the TCP ports copgate reads: the open queue.
        # Given back with the decided bit: it passes, and decides nothing.
        "-A COPGATE-REPLY -m mark --mark 0x40000000/0x40000000"
        " -m comment --comment 'copgate: judged' -j RETURN",
        *(
            f"-A COPGATE-REPLY -p tcp --sport {port} --tcp-flags FIN,SYN,RST,ACK SYN,ACK"
            " -m conntrack --ctdir REPLY -m connmark '!' --mark 0x40000000/0x40000000"
            f" -m comment --comment 'copgate: {role} syn-ack'"
            " -j NFQUEUE --queue-num 0 --queue-bypass"
            for role, port in (("dns tcp", 53), ("tls", 443), ("http", 80))
        ),
        "-A COPGATE-OTHER -p tcp -j RETURN",
        "-A COPGATE-OTHER -p udp -j RETURN",
        "-A COPGATE-OTHER -p icmp -j RETURN",
        "-A COPGATE-OTHER -j REJECT --reject-with icmp-proto-unreachable",
        "-A COPGATE-OTHER-OK -p tcp -j RETURN",
        "-A COPGATE-OTHER-OK -p udp -j RETURN",
        "-A COPGATE-OTHER-OK -p icmp -j RETURN",
        "-A COPGATE-OTHER-OK -j ACCEPT",
    ]


def test_iptables_injected_packets_to_the_lan_are_untracked_in_the_raw_table() -> None:
    plan = render_iptables(SPEC, Family.IPV6)
    # Per LAN interface only: an injected RST to the server (sent as the
    # client) must stay tracked, so that masquerade gives it the WAN address.
    # Then no reflector: an injected packet from a port copgate reads (an
    # answer as the server) that is not leaving for the LAN is dropped.
    mark = "-m mark --mark 0x20000000/0x20000000"
    assert [shlex.join(rule) for rule in plan.raw_rules] == [
        *(
            f"-A COPGATE-RAW -o {lan} {mark}"
            " -m comment --comment 'copgate: injected to the lan, untracked' -j CT --notrack"
            for lan in ("br-lan", "lan2")
        ),
        *(
            f"-A COPGATE-RAW -o {lan} -m comment --comment 'copgate: to the lan' -j RETURN"
            for lan in ("br-lan", "lan2")
        ),
        *(
            f"-A COPGATE-RAW -p {protocol} --sport {port} {mark}"
            f" -m comment --comment 'copgate: injected {role} answer off the lan' -j DROP"
            for protocol, port, role in (
                ("udp", 53, "dns udp"),
                ("udp", 443, "quic"),
                ("tcp", 53, "dns tcp"),
                ("tcp", 443, "tls"),
                ("tcp", 80, "http"),
            )
        ),
    ]
    assert plan.raw_jumps == (("OUTPUT", "-j", RAW_CHAIN),)
    text = plan.restore_text(raw_changes=jump_changes((), plan.raw_jumps, RAW_HOOKS))
    raw = text[: text.index("*filter")].splitlines()
    assert raw[:2] == ["*raw", ":COPGATE-RAW - [0:0]"]
    assert raw[-2:] == ["-I OUTPUT 1 -j COPGATE-RAW", "COMMIT"]


def test_iptables_each_client_set_goes_to_its_failure_chain_in_order() -> None:
    v4, v6 = iptables_rules(FAILING, Family.IPV4), iptables_rules(FAILING, Family.IPV6)
    assert [rule for rule in v4 if rule.startswith("-A COPGATE-QUEUE")] == [
        "-A COPGATE-QUEUE -i lan2 -m comment --comment 'copgate: fails open' -g COPGATE-OPEN",
        "-A COPGATE-QUEUE -m mac --mac-source 02:00:5e:00:53:01"
        " -m comment --comment 'copgate: fails open' -g COPGATE-OPEN",
        "-A COPGATE-QUEUE -s 192.0.2.0/25 -m comment --comment 'copgate: fails closed'"
        " -g COPGATE-CLOSED",
        "-A COPGATE-QUEUE -m comment --comment 'copgate: fails closed' -g COPGATE-CLOSED",
    ]
    assert [rule.split()[3] for rule in v6 if rule.startswith("-A COPGATE-QUEUE -s")] == [
        "2001:db8:1::/64"
    ]


def test_iptables_a_rate_of_zero_limits_nothing() -> None:
    rules = iptables_rules(dataclasses.replace(SPEC, queue_rate=0, queue_num=9), Family.IPV4)
    assert not [rule for rule in rules if "hashlimit" in rule]
    assert [rule for rule in rules if "NFQUEUE" in rule and "-A COPGATE-REPLY" not in rule] == [
        "-A COPGATE-OPEN -m comment --comment 'copgate: queue 9'"
        " -j NFQUEUE --queue-num 9 --queue-bypass",
        "-A COPGATE-CLOSED -m comment --comment 'copgate: queue 10' -j NFQUEUE --queue-num 10",
    ]


def test_hashlimit_names_carry_the_rate_and_fit_the_kernel() -> None:
    # The kernel reuses a table of the same name with its old settings: a
    # changed rate must change the name. XT_HASHLIMIT name: 15 bytes.
    widest = dataclasses.replace(SPEC, queue_rate=MAX_QUEUE_RATE, queue_burst=MAX_QUEUE_RATE)
    assert hashlimit_name(widest, WhenAbsent.DROP) == "cgc99999-99999"
    assert len(hashlimit_name(widest, WhenAbsent.DROP)) <= 15
    assert hashlimit_name(SPEC, WhenAbsent.PASS) != hashlimit_name(
        dataclasses.replace(SPEC, queue_burst=601), WhenAbsent.PASS
    )


def test_iptables_jumps_per_lan_interface_in_and_out() -> None:
    plan = render_iptables(SPEC, Family.IPV6)
    assert plan.command == "ip6tables"
    assert plan.chains == (*FILTER_CHAINS, OTHER_CHAIN, OTHER_PASS_CHAIN)
    assert FILTER_CHAINS[:3] == (FORWARD_CHAIN, CHAIN, REFUSE_CHAIN)
    synack = ("-p", "tcp", "-m", "tcp", "--tcp-flags", "FIN,SYN,RST,ACK", "SYN,ACK")
    # One jump per hook and interface: a download's every packet meets each.
    assert plan.jumps == (
        ("FORWARD", "-i", "br-lan", "-j", FORWARD_CHAIN),
        ("FORWARD", "-i", "lan2", "-j", FORWARD_CHAIN),
        ("INPUT", "-i", "br-lan", "-j", CHAIN),
        ("INPUT", "-i", "lan2", "-j", CHAIN),
        # Out to the LAN: servers' SYN-ACKs only, forwarded or the router's own.
        ("FORWARD", "-o", "br-lan", *synack, "-j", REPLY_CHAIN),
        ("FORWARD", "-o", "lan2", *synack, "-j", REPLY_CHAIN),
        ("OUTPUT", "-o", "br-lan", *synack, "-j", REPLY_CHAIN),
        ("OUTPUT", "-o", "lan2", *synack, "-j", REPLY_CHAIN),
    )
    # Refusals for forwarded traffic only, and before the queue.
    assert plan.rules[:2] == (
        ("-A", FORWARD_CHAIN, "-j", REFUSE_CHAIN),
        ("-A", FORWARD_CHAIN, "-g", CHAIN),
    )


FORWARD_REFUSE = ("FORWARD", "-i", "br-lan", "-j", REFUSE_CHAIN)
FORWARD_QUEUE = ("FORWARD", "-i", "br-lan", "-j", CHAIN)
INPUT_QUEUE = ("INPUT", "-i", "br-lan", "-j", CHAIN)


def test_jump_changes_none_when_in_place() -> None:
    jumps = (FORWARD_REFUSE, FORWARD_QUEUE, INPUT_QUEUE)
    assert jump_changes(jumps, jumps) == ()


def test_jump_changes_insert_first_in_order() -> None:
    assert jump_changes([], [FORWARD_REFUSE, FORWARD_QUEUE, INPUT_QUEUE]) == (
        ("-I", "FORWARD", "1", "-i", "br-lan", "-j", CHAIN),
        ("-I", "FORWARD", "1", "-i", "br-lan", "-j", REFUSE_CHAIN),
        ("-I", "INPUT", "1", "-i", "br-lan", "-j", CHAIN),
    )


def test_jump_changes_redo_a_hook_out_of_order_and_leave_the_other() -> None:
    # An older copgate's FORWARD jump alone, or the two in the wrong order:
    # the hook's jumps are redone; INPUT, already right, is not touched.
    for present in ([FORWARD_QUEUE, INPUT_QUEUE], [FORWARD_QUEUE, FORWARD_REFUSE, INPUT_QUEUE]):
        changes = jump_changes(present, [FORWARD_REFUSE, FORWARD_QUEUE, INPUT_QUEUE])
        deleted = [c[1:] for c in changes if c[0] == "-D"]
        assert deleted == [jump for jump in present if jump[0] == "FORWARD"]
        assert [c for c in changes if c[0] == "-I"] == [
            ("-I", "FORWARD", "1", "-i", "br-lan", "-j", CHAIN),
            ("-I", "FORWARD", "1", "-i", "br-lan", "-j", REFUSE_CHAIN),
        ]
        assert not [c for c in changes if c[1] == "INPUT"]


def test_restore_text_carries_the_jump_changes_in_its_transaction() -> None:
    plan = render_iptables(SPEC, Family.IPV4)
    lines = plan.restore_text(jump_changes([], plan.jumps)).splitlines()
    assert lines[-1] == "COMMIT"
    assert lines[-2] == (
        "-I OUTPUT 1 -o br-lan -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN,ACK -j COPGATE-REPLY"
    )
    assert "-I INPUT 1 -i br-lan -j COPGATE" in lines
    assert "-I FORWARD 1 -i br-lan -j COPGATE-FORWARD" in lines


def test_iptables_refusals_per_client_and_family() -> None:
    v4, v6 = iptables_rules(FULL, Family.IPV4), iptables_rules(FULL, Family.IPV6)
    assert with_comment(v4, "refuse dot") == [
        "-A COPGATE-REFUSE -p tcp --dport 853 -m comment --comment 'copgate: refuse dot'"
        " -j REJECT --reject-with tcp-reset"
    ]
    assert with_comment(v6, "refuse doq") == [
        "-A COPGATE-REFUSE -p udp --dport 853 -m comment --comment 'copgate: refuse doq'"
        " -j REJECT --reject-with icmp6-port-unreachable"
    ]
    # An address range renders only in its own family.
    quic_v4 = with_comment(v4, "refuse quic")
    quic_v6 = with_comment(v6, "refuse quic")
    assert [r for r in quic_v4 if "-s " in r] == [
        "-A COPGATE-REFUSE -s 192.0.2.0/25 -p udp --dport 443"
        " -m comment --comment 'copgate: refuse quic' -j REJECT --reject-with icmp-port-unreachable"
    ]
    assert [r.split()[3] for r in quic_v6 if "-s " in r] == ["2001:db8:1::/64"]
    assert with_comment(v4, "refuse quic")[-1].startswith(
        "-A COPGATE-REFUSE -m mac --mac-source 02:00:5e:00:53:01 -p udp --dport 443"
    )


def test_iptables_walled_garden_refuses_all_it_cannot_read() -> None:
    v4, v6 = iptables_rules(FULL, Family.IPV4), iptables_rules(FULL, Family.IPV6)
    assert with_comment(v4, "refuse unreadable-tcp") == [
        "-A COPGATE-REFUSE -i lan2 -p tcp -m multiport '!' --dports 53,443,8443,80"
        " -m comment --comment 'copgate: refuse unreadable-tcp' -j REJECT --reject-with tcp-reset"
    ]
    assert "-m multiport '!' --dports 53,443 " in with_comment(v4, "refuse unreadable-udp")[0]
    assert with_comment(v4, "refuse unreadable-other")[0].endswith(f"-j {OTHER_CHAIN}")
    assert v6[-6:-4] == [
        "-A COPGATE-OTHER -p ipv6-icmp -j RETURN",
        "-A COPGATE-OTHER -j REJECT --reject-with icmp6-adm-prohibited",
    ]


def test_iptables_refusals_come_before_the_queue_rules() -> None:
    rules = iptables_rules(FULL, Family.IPV4)
    last_refusal = max(i for i, r in enumerate(rules) if "refuse" in r)
    first_queue = min(i for i, r in enumerate(rules) if "NFQUEUE" in r)
    assert last_refusal < first_queue


def test_iptables_multiport_and_queue_number() -> None:
    rules = iptables_rules(FULL, Family.IPV4)
    assert with_comment(rules, "tls") == [
        "-A COPGATE -p tcp -m multiport --dports 443,8443 -m conntrack --ctdir ORIGINAL"
        " -m connmark '!' --mark 0x40000000/0x40000000 -m comment --comment 'copgate: tls'"
        " -g COPGATE-QUEUE"
    ]
    assert with_comment(rules, "tls, nothing to judge") == [
        "-A COPGATE -p tcp -m multiport --dports 443,8443"
        " -m comment --comment 'copgate: tls, nothing to judge' -j RETURN"
    ]
    assert with_comment(rules, "queue 7")[0].endswith("-j NFQUEUE --queue-num 7 --queue-bypass")
    assert with_comment(rules, "queue 8")[0].endswith("-j NFQUEUE --queue-num 8")


def test_restore_text_reads_back_as_the_same_arguments() -> None:
    plan = render_iptables(FULL, Family.IPV4)
    lines = plan.restore_text().splitlines()
    raw_end = lines.index("*filter")
    assert lines[:2] == ["*raw", ":COPGATE-RAW - [0:0]"]
    assert lines[raw_end - 1] == "COMMIT"
    assert lines[raw_end : raw_end + 11] == [
        "*filter",
        ":COPGATE-FORWARD - [0:0]",
        ":COPGATE - [0:0]",
        ":COPGATE-REFUSE - [0:0]",
        ":COPGATE-QUEUE - [0:0]",
        ":COPGATE-OPEN - [0:0]",
        ":COPGATE-CLOSED - [0:0]",
        ":COPGATE-EXCESS - [0:0]",
        ":COPGATE-REPLY - [0:0]",
        ":COPGATE-OTHER - [0:0]",
        ":COPGATE-OTHER-OK - [0:0]",
    ]
    assert lines[-1] == "COMMIT"
    # iptables-restore's quoting (double quotes, backslash escapes) is a
    # subset of the shell's, so shlex reads what it would read.
    assert [tuple(shlex.split(line)) for line in lines[2 : raw_end - 1]] == list(plan.raw_rules)
    assert [tuple(shlex.split(line)) for line in lines[raw_end + 11 : -1]] == list(plan.rules)
    assert '--comment "copgate: refuse dot"' in plan.restore_text()


# -- "the segment carries data", evaluated as the kernel does -----------------


def _u32_match(expression: str, packet: bytes) -> bool:
    """xt_u32's algorithm (net/netfilter/xt_u32.c) for the forms copgate emits."""

    def word(offset: int) -> int:
        value: int = struct.unpack_from(">I", packet, offset)[0]
        return value

    for test in expression.split("&&"):
        location, _, ranges = test.partition("=")
        tokens = re.findall(r"0x[0-9A-Fa-f]+|\d+|>>|<<|[&@]", location)
        at = 0
        position = int(tokens[0], 0)
        if len(packet) < 4 or position > len(packet) - 4:
            return False
        value = word(position)
        for op, number_text in zip(tokens[1::2], tokens[2::2], strict=True):
            number = int(number_text, 0)
            if op == "&":
                value &= number
            elif op == ">>":
                value >>= number
            elif op == "<<":
                value = (value << number) & 0xFFFF_FFFF
            else:  # "@": move the base, read at the next number
                at += value
                if len(packet) < at + 4 or number > len(packet) - at - 4:
                    return False
                value = word(at + number)
        low, _, high = ranges.partition(":")
        if not int(low, 0) <= value <= int(high or low, 0):
            return False
    return True


def _ipv4_tcp(ihl: int, doff: int, payload: int) -> bytes:
    header = bytearray(4 * ihl)
    header[0] = 0x40 | ihl
    total = 4 * ihl + 4 * doff + payload
    struct.pack_into(">H", header, 2, total)
    header[9] = 6
    tcp = bytearray(4 * doff)
    tcp[12] = doff << 4
    return bytes(header) + bytes(tcp) + b"x" * payload


def _ipv6_tcp(doff: int, payload: int, extension: int = 0) -> bytes:
    header = bytearray(40)
    header[0] = 0x60
    struct.pack_into(">H", header, 4, 8 * extension + 4 * doff + payload)
    header[6] = 0 if extension else 6  # hop-by-hop options, or TCP
    options = b""
    if extension:
        options = bytes([6, extension - 1]) + bytes(8 * extension - 2)
    tcp = bytearray(4 * doff)
    tcp[12] = doff << 4
    return bytes(header) + options + bytes(tcp) + b"x" * payload


def _payload_expressions(family: Family) -> tuple[str, str]:
    """The (exact, cannot-measure) u32 expressions of the HTTP rule."""
    http = [r for r in render_iptables(SPEC, family).rules if "copgate: http" in r and "--u32" in r]
    exact = next(r for r in http if "!" not in r)
    fallback = next(r for r in http if "!" in r)
    return exact[exact.index("--u32") + 1], fallback[fallback.index("--u32") + 1]


HEADER_WORDS = range(5, 16)
"""Every IPv4 IHL and TCP data offset (RFC 791, RFC 9293 §3.1: 5 to 15 words)."""


def test_u32_ipv4_queues_every_segment_with_data_and_no_empty_one() -> None:
    exact, plain_header = _payload_expressions(Family.IPV4)
    for ihl in HEADER_WORDS:
        for doff in HEADER_WORDS:
            for payload in PAYLOADS:
                packet = _ipv4_tcp(ihl, doff, payload)
                hit = _u32_match(exact, packet)
                queued = hit or not _u32_match(plain_header, packet)
                case = f"ihl={ihl} doff={doff} payload={payload}"
                assert hit == (ihl == 5 and payload > 0), case
                # With IP options u32 cannot measure: queue, never miss.
                assert queued == (payload > 0 or ihl > 5), case


def test_u32_ipv6_queues_every_segment_with_data_and_no_empty_one() -> None:
    exact, plain_header = _payload_expressions(Family.IPV6)
    for extension in range(4):
        for doff in HEADER_WORDS:
            for payload in PAYLOADS:
                packet = _ipv6_tcp(doff, payload, extension)
                queued = _u32_match(exact, packet) or not _u32_match(plain_header, packet)
                case = f"extension={extension} doff={doff} payload={payload}"
                assert queued == (payload > 0 or extension > 0), case
