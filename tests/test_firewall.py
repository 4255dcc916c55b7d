"""copgate.firewall: the rule model and its iptables and nftables texts.

The texts are checked as text (order, matches, verdicts), the "segment
carries data" matches are checked by evaluating them the way the kernel
does (xt_u32's algorithm, nftables' interval set) over every header length,
and the nftables text is handed to ``nft -c`` in a scratch network
namespace where nft and root are available. The lab's edge tests load the
iptables rules into a real kernel.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import struct
import subprocess
from typing import NamedTuple

import pytest

from copgate.errors import ConfigError
from copgate.firewall import (
    ANY_CLIENT,
    CHAIN,
    DECIDED_MARK,
    INJECTED_MARK,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    REFUSE_CHAIN,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    Action,
    ClientKind,
    ClientMatch,
    Family,
    FirewallSpec,
    Protocol,
    Refusal,
    Rule,
    WhenAbsent,
    build_refusals,
    build_rules,
    jump_changes,
    render_iptables,
    render_nft,
    unreadable,
)

LANS = ("br-lan", "lan2")
SPEC = FirewallSpec(LANS)
PUPILS = ClientMatch(ClientKind.CIDR, "192.0.2.0/25")
PUPILS_V6 = ClientMatch(ClientKind.CIDR, "2001:db8:1::/64")
GUESTS = ClientMatch(ClientKind.INTERFACE, "lan2")
TABLET = ClientMatch(ClientKind.MAC, "02-00-5E-00-53-01")
BASE = FirewallSpec(LANS, queue_num=7, tls_ports=(443, 8443))
FULL = dataclasses.replace(
    BASE,
    refusals=(
        (ANY_CLIENT, REFUSE_DOT),
        (ANY_CLIENT, REFUSE_DOQ),
        (PUPILS, REFUSE_QUIC),
        (PUPILS_V6, REFUSE_QUIC),
        *((GUESTS, refusal) for refusal in unreadable(BASE)),
        (TABLET, REFUSE_QUIC),
    ),
)


def _rules(spec: FirewallSpec, family: Family) -> list[str]:
    return [shlex.join(rule) for rule in render_iptables(spec, family).rules]


def _with(rules: list[str], comment: str) -> list[str]:
    return [rule for rule in rules if f"--comment 'copgate: {comment}'" in rule]


# -- the model ---------------------------------------------------------------


def test_model_order_skip_injected_then_decided_then_queues() -> None:
    actions = [(rule.action, rule.comment) for rule in build_rules(FULL)]
    assert actions[0] == (Action.RETURN, "copgate: injected by copgate")
    assert actions[1] == (Action.MARK_DECIDED, "copgate: flow decided")
    assert [c for _, c in actions[2:]] == [
        "copgate: dns udp",
        "copgate: dns tcp",
        "copgate: quic",
        "copgate: tls",
        "copgate: http",
    ]


def test_model_refusals_in_their_own_chain_in_spec_order() -> None:
    refusals = build_refusals(FULL)
    assert [rule.action for rule in refusals] == [Action.REJECT] * len(FULL.refusals)
    assert [(rule.client, rule.comment) for rule in refusals] == [
        (client, f"copgate: refuse {refusal.reason}") for client, refusal in FULL.refusals
    ]
    assert not [rule for rule in build_rules(FULL) if rule.action is Action.REJECT]


def test_model_dns_is_never_decided_tls_and_quic_are() -> None:
    by_comment = {rule.comment: rule for rule in build_rules(SPEC)}
    assert by_comment["copgate: dns udp"].undecided == 0
    assert by_comment["copgate: dns tcp"].undecided == 0
    assert by_comment["copgate: dns tcp"].payload_only
    assert by_comment["copgate: tls"].undecided == DECIDED_MARK
    assert by_comment["copgate: quic"].undecided == DECIDED_MARK
    assert by_comment["copgate: http"].payload_only
    assert by_comment["copgate: http"].original_only
    assert by_comment["copgate: http"].undecided == 0  # every request on a kept-alive flow


def test_a_role_without_ports_queues_nothing() -> None:
    spec = FirewallSpec(LANS, quic_ports=())
    comments = [rule.comment for rule in build_rules(spec)]
    assert "copgate: quic" not in comments
    assert "copgate: tls" in comments


# -- iptables ------------------------------------------------------------------


def test_iptables_default_rules_exactly() -> None:
    assert _rules(SPEC, Family.IPV4) == [
        "-A COPGATE -m mark --mark 0x20000000/0x20000000"
        " -m comment --comment 'copgate: injected by copgate' -j RETURN",
        "-A COPGATE -m mark --mark 0x40000000/0x40000000 -m comment --comment"
        " 'copgate: flow decided' -j CONNMARK --set-xmark 0x40000000/0x40000000",
        "-A COPGATE -m mark --mark 0x40000000/0x40000000"
        " -m comment --comment 'copgate: flow decided' -j RETURN",
        "-A COPGATE -p udp --dport 53 -m comment --comment 'copgate: dns udp'"
        " -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p tcp --dport 53 -m u32 --u32 '0>>24&0xF=5&&32>>26&0x3C@17=0:0xFFFFFFFF'"
        " -m comment --comment 'copgate: dns tcp' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p tcp --dport 53 -m u32 '!' --u32 '0>>24&0xF=5'"
        " -m comment --comment 'copgate: dns tcp' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p udp --dport 443 -m conntrack --ctdir ORIGINAL"
        " -m connmark '!' --mark 0x40000000/0x40000000"
        " -m comment --comment 'copgate: quic' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p tcp --dport 443 -m conntrack --ctdir ORIGINAL"
        " -m connmark '!' --mark 0x40000000/0x40000000"
        " -m comment --comment 'copgate: tls' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p tcp --dport 80 -m conntrack --ctdir ORIGINAL"
        " -m u32 --u32 '0>>24&0xF=5&&32>>26&0x3C@17=0:0xFFFFFFFF'"
        " -m comment --comment 'copgate: http' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE -p tcp --dport 80 -m conntrack --ctdir ORIGINAL -m u32 '!' --u32 '0>>24&0xF=5'"
        " -m comment --comment 'copgate: http' -j NFQUEUE --queue-num 0 --queue-bypass",
        "-A COPGATE-OTHER -p tcp -j RETURN",
        "-A COPGATE-OTHER -p udp -j RETURN",
        "-A COPGATE-OTHER -p icmp -j RETURN",
        "-A COPGATE-OTHER -j REJECT --reject-with icmp-proto-unreachable",
        "-A COPGATE-OTHER-OK -p tcp -j RETURN",
        "-A COPGATE-OTHER-OK -p udp -j RETURN",
        "-A COPGATE-OTHER-OK -p icmp -j RETURN",
        "-A COPGATE-OTHER-OK -j ACCEPT",
    ]


def test_iptables_jumps_from_forward_and_input_per_lan_interface() -> None:
    plan = render_iptables(SPEC, Family.IPV6)
    assert plan.command == "ip6tables"
    assert plan.chains == (CHAIN, REFUSE_CHAIN, OTHER_CHAIN, OTHER_PASS_CHAIN)
    # Refusals for forwarded traffic only, and before the queue.
    assert plan.jumps == (
        ("FORWARD", "-i", "br-lan", "-j", REFUSE_CHAIN),
        ("FORWARD", "-i", "lan2", "-j", REFUSE_CHAIN),
        ("FORWARD", "-i", "br-lan", "-j", CHAIN),
        ("FORWARD", "-i", "lan2", "-j", CHAIN),
        ("INPUT", "-i", "br-lan", "-j", CHAIN),
        ("INPUT", "-i", "lan2", "-j", CHAIN),
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
    assert lines[-2] == "-I INPUT 1 -i br-lan -j COPGATE"
    assert "-I FORWARD 1 -i br-lan -j COPGATE-REFUSE" in lines


def test_iptables_refusals_per_client_and_family() -> None:
    v4, v6 = _rules(FULL, Family.IPV4), _rules(FULL, Family.IPV6)
    assert _with(v4, "refuse dot") == [
        "-A COPGATE-REFUSE -p tcp --dport 853 -m comment --comment 'copgate: refuse dot'"
        " -j REJECT --reject-with tcp-reset"
    ]
    assert _with(v6, "refuse doq") == [
        "-A COPGATE-REFUSE -p udp --dport 853 -m comment --comment 'copgate: refuse doq'"
        " -j REJECT --reject-with icmp6-port-unreachable"
    ]
    # An address range renders only in its own family.
    quic_v4 = _with(v4, "refuse quic")
    quic_v6 = _with(v6, "refuse quic")
    assert [r for r in quic_v4 if "-s " in r] == [
        "-A COPGATE-REFUSE -s 192.0.2.0/25 -p udp --dport 443"
        " -m comment --comment 'copgate: refuse quic' -j REJECT --reject-with icmp-port-unreachable"
    ]
    assert [r.split()[3] for r in quic_v6 if "-s " in r] == ["2001:db8:1::/64"]
    assert _with(v4, "refuse quic")[-1].startswith(
        "-A COPGATE-REFUSE -m mac --mac-source 02:00:5e:00:53:01 -p udp --dport 443"
    )


def test_iptables_walled_garden_refuses_all_it_cannot_read() -> None:
    v4, v6 = _rules(FULL, Family.IPV4), _rules(FULL, Family.IPV6)
    assert _with(v4, "refuse unreadable-tcp") == [
        "-A COPGATE-REFUSE -i lan2 -p tcp -m multiport '!' --dports 53,443,8443,80"
        " -m comment --comment 'copgate: refuse unreadable-tcp' -j REJECT --reject-with tcp-reset"
    ]
    assert "-m multiport '!' --dports 53,443 " in _with(v4, "refuse unreadable-udp")[0]
    assert _with(v4, "refuse unreadable-other")[0].endswith(f"-j {OTHER_CHAIN}")
    assert v6[-6:-4] == [
        "-A COPGATE-OTHER -p ipv6-icmp -j RETURN",
        "-A COPGATE-OTHER -j REJECT --reject-with icmp6-adm-prohibited",
    ]


def test_iptables_refusals_come_before_the_queue_rules() -> None:
    rules = _rules(FULL, Family.IPV4)
    last_refusal = max(i for i, r in enumerate(rules) if "refuse" in r)
    first_queue = min(i for i, r in enumerate(rules) if "NFQUEUE" in r)
    assert last_refusal < first_queue


def test_iptables_multiport_and_queue_number() -> None:
    tls = _with(_rules(FULL, Family.IPV4), "tls")
    assert tls == [
        "-A COPGATE -p tcp -m multiport --dports 443,8443 -m conntrack --ctdir ORIGINAL"
        " -m connmark '!' --mark 0x40000000/0x40000000 -m comment --comment 'copgate: tls'"
        " -j NFQUEUE --queue-num 7 --queue-bypass"
    ]


def test_fail_closed_drops_the_bypass() -> None:
    spec = FirewallSpec(LANS, when_absent=WhenAbsent.DROP)
    queued = [r for r in _rules(spec, Family.IPV4) if "NFQUEUE" in r]
    assert len(queued) == 7
    assert not any("bypass" in rule for rule in queued)
    assert " bypass " not in render_nft(spec)
    assert "queue num 0 comment" in render_nft(spec)


def test_restore_text_reads_back_as_the_same_arguments() -> None:
    plan = render_iptables(FULL, Family.IPV4)
    lines = plan.restore_text().splitlines()
    assert lines[:5] == [
        "*filter",
        ":COPGATE - [0:0]",
        ":COPGATE-REFUSE - [0:0]",
        ":COPGATE-OTHER - [0:0]",
        ":COPGATE-OTHER-OK - [0:0]",
    ]
    assert lines[-1] == "COMMIT"
    # iptables-restore's quoting (double quotes, backslash escapes) is a
    # subset of the shell's, so shlex reads what it would read.
    assert [tuple(shlex.split(line)) for line in lines[5:-1]] == list(plan.rules)
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
    http = [r for r in render_iptables(SPEC, family).rules if "copgate: http" in r]
    exact = next(r for r in http if "!" not in r)
    fallback = next(r for r in http if "!" in r)
    return exact[exact.index("--u32") + 1], fallback[fallback.index("--u32") + 1]


HEADER_WORDS = range(5, 16)
"""Every IPv4 IHL and TCP data offset (RFC 791, RFC 9293 §3.1: 5 to 15 words)."""
PAYLOADS = (*range(0, 9), 100, 1400)


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


def _nft_payload_sets(text: str) -> dict[str, list[tuple[int, int, int]]]:
    """The ``length . doff`` interval sets of the nft text, by family keyword."""
    sets = {}
    for keyword in ("ip", "ip6"):
        match = re.search(rf" {keyword} length \. tcp doff \{{ ([^}}]*) \}}", text)
        assert match is not None, keyword
        elements = []
        for element in match.group(1).split(", "):
            span, _, doff = element.partition(" . ")
            low, _, high = span.partition("-")
            elements.append((int(low), int(high), int(doff)))
        sets[keyword] = elements
    return sets


def test_nft_length_sets_match_exactly_the_segments_with_data() -> None:
    sets = _nft_payload_sets(render_nft(SPEC))

    def member(elements: list[tuple[int, int, int]], length: int, doff: int) -> bool:
        return any(low <= length <= high and d == doff for low, high, d in elements)

    for doff in range(16):
        for payload in PAYLOADS:
            carries = doff >= 5 and payload > 0
            case = f"doff={doff} payload={payload}"
            assert member(sets["ip"], 20 + 4 * doff + payload, doff) == carries, case
            # "ip6 length" is the payload length: the 40-byte header is not in it.
            assert member(sets["ip6"], 4 * doff + payload, doff) == carries, case


# -- nftables ----------------------------------------------------------------


def test_nft_table_of_its_own_replacing_an_older_one() -> None:
    lines = render_nft(SPEC).splitlines()
    assert lines[1:4] == ["table inet copgate", "delete table inet copgate", "table inet copgate {"]
    text = "\n".join(lines)
    lans = '\t\tiifname { "br-lan", "lan2" }'
    for hook, jumps in (("forward", ("refuse", "from_lan")), ("input", ("from_lan",))):
        assert (
            f"\tchain {hook} {{\n"
            f"\t\ttype filter hook {hook} priority filter - 5; policy accept;\n"
            + "".join(f"{lans} jump {chain}\n" for chain in jumps)
            + "\t}"
        ) in text


def test_nft_rules_in_model_order() -> None:
    text = render_nft(FULL)
    body = text[text.index("chain from_lan {") :].splitlines()[1:-2]
    comments = [re.search(r'comment "copgate: ([^"]+)"$', line) for line in body]
    assert all(comments)
    model = [rule.comment.removeprefix("copgate: ") for rule in build_rules(FULL)]
    seen = [m.group(1) for m in comments if m]
    # Payload-only rules render once per family, everything else once.
    assert [c for i, c in enumerate(seen) if i == 0 or c != seen[i - 1]] == [
        c for i, c in enumerate(model) if i == 0 or c != model[i - 1]
    ]
    assert seen.count("http") == 2
    assert seen.count("dns tcp") == 2


def test_nft_rule_texts() -> None:
    body = render_nft(FULL)
    expected = [
        'meta mark & 0x20000000 == 0x20000000 return comment "copgate: injected by copgate"',
        "meta mark & 0x40000000 == 0x40000000 ct mark set ct mark | 0x40000000 return"
        ' comment "copgate: flow decided"',
        'tcp dport 853 reject with tcp reset comment "copgate: refuse dot"',
        'udp dport 853 reject with icmpx port-unreachable comment "copgate: refuse doq"',
        "ip saddr 192.0.2.0/25 udp dport 443 reject with icmpx port-unreachable"
        ' comment "copgate: refuse quic"',
        "ip6 saddr 2001:db8:1::/64 udp dport 443 reject",
        'iifname "lan2" tcp dport != { 53, 443, 8443, 80 } reject with tcp reset',
        'iifname "lan2" meta l4proto != { tcp, udp, icmp, ipv6-icmp }'
        ' reject with icmpx admin-prohibited comment "copgate: refuse unreadable-other"',
        "ether saddr 02:00:5e:00:53:01 udp dport 443 reject",
        'udp dport 53 queue num 7 bypass comment "copgate: dns udp"',
        "udp dport 443 ct direction original ct mark & 0x40000000 != 0x40000000"
        ' queue num 7 bypass comment "copgate: quic"',
        "tcp dport { 443, 8443 } ct direction original ct mark & 0x40000000 != 0x40000000"
        ' queue num 7 bypass comment "copgate: tls"',
        "tcp dport 80 ct direction original ip length . tcp doff { 41-65535 . 5,",
        "tcp dport 80 ct direction original ip6 length . tcp doff { 21-65535 . 5,",
        '77-65535 . 14, 81-65535 . 15 } queue num 7 bypass comment "copgate: http"',
        '57-65535 . 14, 61-65535 . 15 } queue num 7 bypass comment "copgate: http"',
    ]
    for fragment in expected:
        assert fragment in body, fragment


def test_nft_single_family() -> None:
    text = render_nft(FirewallSpec(("br-lan",), families=(Family.IPV4,)))
    assert 'meta nfproto ipv4 iifname "br-lan" jump from_lan' in text


def _nft_check(text: str) -> subprocess.CompletedProcess[str]:
    # A scratch network namespace: "nft -c" asks the kernel to validate
    # without committing, and even that stays out of the machine's tables.
    return subprocess.run(
        ["unshare", "--net", "nft", "-c", "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nft_text_passes_nft_check() -> None:
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.skip("nft or unshare is not installed")
    probe = _nft_check("table inet probe\n")
    if probe.returncode != 0:
        pytest.skip(f"nft -c cannot run here (needs root): {probe.stderr.strip()}")
    text = render_nft(FULL)
    checked = _nft_check(text)
    if checked.returncode != 0:
        # This kernel may lack the nftables queue expression (the lab's
        # does: it has only the xtables NFQUEUE target). Then every error
        # must be the queue statement's, and the text with each queue
        # statement replaced by "accept" must pass the kernel's check.
        errors = re.findall(r"^\S+:(\d+):(\d+)-(\d+): Error", checked.stderr, re.M)
        assert errors, checked.stderr
        lines = text.splitlines()
        for line_no, start, end in errors:
            assert lines[int(line_no) - 1][int(start) - 1 : int(end)] == "queue", checked.stderr
        without_queue = re.sub(r"queue num \d+( bypass)?", "accept", text)
        passed = _nft_check(without_queue)
        assert passed.returncode == 0, passed.stderr


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: FirewallSpec(()),
        lambda: FirewallSpec(('br-lan" accept; #',)),
        lambda: FirewallSpec(("an-interface-name-too-long",)),
        lambda: FirewallSpec(LANS, queue_num=65536),
        lambda: FirewallSpec(LANS, dns_ports=(0,)),
        lambda: FirewallSpec(LANS, http_ports=(443,)),
        lambda: FirewallSpec(LANS, tls_ports=tuple(range(1000, 1016))),
        lambda: FirewallSpec(LANS, decided_mark=0),
        lambda: FirewallSpec(LANS, decided_mark=1 << 32),
        lambda: FirewallSpec(LANS, injected_mark=DECIDED_MARK | INJECTED_MARK),
        lambda: ClientMatch(ClientKind.CIDR, "192.0.2.1/24"),
        lambda: ClientMatch(ClientKind.CIDR, "not-an-address"),
        lambda: ClientMatch(ClientKind.MAC, "02:00:00:00:00"),
        lambda: ClientMatch(ClientKind.INTERFACE, "lan 2"),
        lambda: ClientMatch(ClientKind.ANY, "x"),
        lambda: Refusal("DoT!", Protocol.TCP, (853,)),
        lambda: Refusal("other", Protocol.OTHER, (1,)),
        lambda: Refusal("none", Protocol.TCP, (), except_ports=True),
        lambda: Refusal("high", Protocol.UDP, (70000,)),
    ],
)
def test_invalid_specs_are_config_errors(build: object) -> None:
    assert callable(build)
    with pytest.raises(ConfigError):
        build()


def test_matches_are_normalised() -> None:
    assert TABLET.value == "02:00:5e:00:53:01"
    assert ClientMatch(ClientKind.CIDR, "2001:DB8:1::/64").value == "2001:db8:1::/64"
    assert PUPILS.family is Family.IPV4
    assert GUESTS.family is None


def test_exemptions_spare_a_client_the_refusals_that_follow() -> None:
    staff = ClientMatch(ClientKind.CIDR, "192.0.2.64/26")
    spec = FirewallSpec(
        LANS,
        refusals=(
            (staff, dataclasses.replace(REFUSE_QUIC, exempt=True)),
            (staff, dataclasses.replace(REFUSE_DOT, exempt=True)),
            (staff, Refusal("unreadable-other", Protocol.OTHER, exempt=True)),
            (ANY_CLIENT, REFUSE_QUIC),
            (ANY_CLIENT, REFUSE_DOT),
            (ANY_CLIENT, Refusal("unreadable-other", Protocol.OTHER)),
        ),
    )
    rules = _rules(spec, Family.IPV4)
    quic_exempt, dot_exempt, other_exempt, quic_refused = rules[:4]
    # Each exemption leaves the refusals' chain: QUIC then meets the queue
    # rules (for its whole flow, decided or not), DoT the router's own rules.
    assert quic_exempt.startswith("-A COPGATE-REFUSE -s 192.0.2.64/26 -p udp --dport 443")
    assert quic_exempt.endswith("-j RETURN")
    assert "-s 192.0.2.64/26 -p tcp --dport 853" in dot_exempt and dot_exempt.endswith("-j RETURN")
    assert other_exempt.endswith(f"-j {OTHER_PASS_CHAIN}")
    assert "REJECT" in quic_refused and "--dport 443" in quic_refused
    assert _with(rules, "quic")[0].startswith("-A COPGATE -p udp --dport 443")
    nft = render_nft(spec)
    assert 'ip saddr 192.0.2.64/26 udp dport 443 return comment "copgate: quic not refused"' in nft
    assert "meta l4proto != { tcp, udp, icmp, ipv6-icmp } return" in nft


# -- a packet's walk through both chains -------------------------------------


class Walker(NamedTuple):
    """A packet as the rule model sees it (no marks: a plain client packet)."""

    client: ClientMatch | None
    protocol: str
    port: int
    decided: bool = False


def _first(rules: tuple[Rule, ...], packet: Walker) -> Rule | None:
    for rule in rules:
        if rule.client is not ANY_CLIENT and rule.client != packet.client:
            continue
        if rule.protocol is Protocol.OTHER or (
            rule.protocol is not None and rule.protocol.value != packet.protocol
        ):
            continue
        if rule.ports and (packet.port in rule.ports) == rule.except_ports:
            continue
        if rule.mark or (rule.undecided and packet.decided):
            continue
        return rule
    return None


def _walk(spec: FirewallSpec, hook: str, packet: Walker) -> tuple[str, str | None]:
    """Where a packet ends: ("reject" | "queue", comment), or ("pass", None)."""
    chains = (
        (build_refusals(spec), build_rules(spec)) if hook == "FORWARD" else (build_rules(spec),)
    )
    for rules in chains:
        rule = _first(rules, packet)
        if rule is not None and rule.action is not Action.RETURN:
            return rule.action.value, rule.comment
    return "pass", None


STAFF = ClientMatch(ClientKind.CIDR, "192.0.2.64/26")
EXEMPT_STAFF = FirewallSpec(
    LANS,
    refusals=(
        (STAFF, dataclasses.replace(REFUSE_QUIC, exempt=True)),
        *((STAFF, dataclasses.replace(r, exempt=True)) for r in unreadable(SPEC)),
        (ANY_CLIENT, REFUSE_QUIC),
        *((ANY_CLIENT, r) for r in unreadable(SPEC)),
    ),
)


@pytest.mark.parametrize(
    ("hook", "packet", "end"),
    [
        # An exempt client's QUIC is queued until decided, then passes; a
        # decided flow must never fall through to a later refusal.
        ("FORWARD", Walker(STAFF, "udp", 443), ("queue", "copgate: quic")),
        ("FORWARD", Walker(STAFF, "udp", 443, decided=True), ("pass", None)),
        ("FORWARD", Walker(None, "udp", 443), ("reject", "copgate: refuse quic")),
        ("FORWARD", Walker(STAFF, "tcp", 22), ("pass", None)),
        ("FORWARD", Walker(None, "tcp", 22), ("reject", "copgate: refuse unreadable-tcp")),
        # The router's own services (DHCP, the block page on 8099) are never
        # refused: the input hook meets the queue rules only.
        ("INPUT", Walker(None, "udp", 67), ("pass", None)),
        ("INPUT", Walker(None, "tcp", 8099), ("pass", None)),
        ("INPUT", Walker(None, "udp", 53), ("queue", "copgate: dns udp")),
        ("INPUT", Walker(None, "udp", 443), ("queue", "copgate: quic")),
    ],
)
def test_where_a_packet_ends(hook: str, packet: Walker, end: tuple[str, str | None]) -> None:
    assert _walk(EXEMPT_STAFF, hook, packet) == end
