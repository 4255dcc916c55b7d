"""copgate.firewall.nft: the rules as a table of copgate's own for fw4.

The text is checked as text (its table, hooks and rule order), the "segment
carries data" interval sets are evaluated the way the kernel does over every
header length, and the whole text is handed to ``nft -c`` in a scratch
network namespace where nft and root are available.
"""

from __future__ import annotations

import dataclasses
import re

from copgate.firewall import Family, FirewallSpec, build_rules, render_nft
from tests.firewall.helpers import FAILING, FULL, PAYLOADS, SPEC, assert_nft_accepted


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
    lans = '{ "br-lan", "lan2" }'
    synack = "tcp flags & (fin|syn|rst|ack) == syn|ack"
    hooks = (
        # In: one jump through the refusals, then the queue; out: SYN-ACKs only
        # (each rule of a hook is met by a download's every packet).
        ("forward", (f"iifname {lans} jump forward_lan", f"oifname {lans} {synack} jump to_lan")),
        ("input", (f"iifname {lans} jump from_lan",)),
        ("output", (f"oifname {lans} {synack} jump to_lan",)),
    )
    for hook, jumps in hooks:
        assert (
            f"\tchain {hook} {{\n"
            f"\t\ttype filter hook {hook} priority filter - 5; policy accept;\n"
            + "".join(f"\t\t{jump}\n" for jump in jumps)
            + "\t}"
        ) in text
    assert _chain(text, "forward_lan") == ["jump refuse", "goto from_lan"]


def test_nft_rules_in_model_order() -> None:
    text = render_nft(FULL)
    body = _chain(text, "from_lan")
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


def _chain(text: str, name: str) -> list[str]:
    """The rule lines of one chain of the nft text."""
    body = text[text.index(f"\tchain {name} {{\n") :]
    return [line.strip() for line in body[: body.index("\n\t}")].splitlines()[1:]]


def test_nft_each_client_set_goes_to_its_failure_chain_in_order() -> None:
    text = render_nft(FAILING)
    assert _chain(text, "to_queue") == [
        'iifname "lan2" goto open comment "copgate: fails open"',
        'ether saddr 02:00:5e:00:53:01 goto open comment "copgate: fails open"',
        'ip saddr 192.0.2.0/25 goto closed comment "copgate: fails closed"',
        'ip6 saddr 2001:db8:1::/64 goto closed comment "copgate: fails closed"',
        'goto closed comment "copgate: fails closed"',
    ]
    rate = "limit rate over 300/second burst 600 packets"
    over = 'goto excess comment "copgate: over the client rate"'
    assert _chain(text, "open") == [
        f"update @open4 {{ ip saddr {rate} }} {over}",
        f"update @open6 {{ ip6 saddr {rate} }} {over}",
        'queue num 7 bypass comment "copgate: queue 7"',
    ]
    assert _chain(text, "closed") == [
        f"update @closed4 {{ ip saddr {rate} }} {over}",
        f"update @closed6 {{ ip6 saddr {rate} }} {over}",
        'queue num 8 comment "copgate: queue 8"',
    ]
    # Over the rate: each client's evasion treatment, whatever its failure mode
    # (the guests fail open and pass, the tablet fails open and is dropped).
    assert _chain(text, "excess") == [
        'iifname "lan2" return comment "copgate: over the rate, passed"',
        'ether saddr 02:00:5e:00:53:01 drop comment "copgate: over the rate, dropped"',
        'ip saddr 192.0.2.0/25 drop comment "copgate: over the rate, dropped"',
        'ip6 saddr 2001:db8:1::/64 drop comment "copgate: over the rate, dropped"',
        'drop comment "copgate: over the rate, dropped"',
    ]
    assert (
        "\tset closed6 { type ipv6_addr; size 65535; flags dynamic,timeout; timeout 10s; }" in text
    )


def test_nft_one_family_has_the_sets_and_limits_of_that_family_only() -> None:
    text = render_nft(dataclasses.replace(FAILING, families=(Family.IPV6,)))
    assert "set open6 " in text and "set open4 " not in text
    assert [line for line in _chain(text, "closed") if "update" in line] == [
        "update @closed6 { ip6 saddr limit rate over 300/second burst 600 packets } goto excess"
        ' comment "copgate: over the client rate"'
    ]


def test_nft_without_a_rate_has_no_sets() -> None:
    text = render_nft(dataclasses.replace(SPEC, queue_rate=0))
    assert "\tset " not in text and "update @" not in text
    assert _chain(text, "open") == ['queue num 0 bypass comment "copgate: queue 0"']


def test_nft_injected_packets_to_the_lan_are_untracked_and_answers_stay_there() -> None:
    text = render_nft(FULL)
    mark = "meta mark & 0x20000000 == 0x20000000"
    assert _chain(text, "output_raw") == [
        "type filter hook output priority raw; policy accept;",
        *(
            f'oifname "{lan}" {mark} notrack comment "copgate: injected to the lan, untracked"'
            for lan in ("br-lan", "lan2")
        ),
        *(f'oifname "{lan}" return comment "copgate: to the lan"' for lan in ("br-lan", "lan2")),
        f'udp sport 53 {mark} drop comment "copgate: injected dns udp answer off the lan"',
        f'udp sport 443 {mark} drop comment "copgate: injected quic answer off the lan"',
        f'tcp sport 53 {mark} drop comment "copgate: injected dns tcp answer off the lan"',
        f'tcp sport {{ 443, 8443 }} {mark} drop comment "copgate: injected tls answer off the lan"',
        f'tcp sport 80 {mark} drop comment "copgate: injected http answer off the lan"',
    ]


def test_nft_servers_syn_acks_go_to_the_open_queue() -> None:
    # Whatever the failure modes (FAILING: the default group fails closed).
    text = render_nft(FAILING)
    undecided = "ct mark & 0x40000000 != 0x40000000"
    synack = "tcp flags & (fin|syn|rst|ack) == syn|ack ct direction reply"
    assert _chain(text, "to_lan") == [
        'meta mark & 0x40000000 == 0x40000000 return comment "copgate: judged"',
        f'tcp sport 53 {synack} {undecided} queue num 7 bypass comment "copgate: dns tcp syn-ack"',
        f"tcp sport {{ 443, 8443 }} {synack} {undecided} queue num 7 bypass"
        ' comment "copgate: tls syn-ack"',
        f'tcp sport 80 {synack} {undecided} queue num 7 bypass comment "copgate: http syn-ack"',
    ]


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
        'udp dport 53 goto to_queue comment "copgate: dns udp"',
        "tcp dport 53 tcp flags & (fin|syn|rst|ack) == syn goto to_queue"
        ' comment "copgate: dns tcp syn"',
        "udp dport 443 ct direction original ct mark & 0x40000000 != 0x40000000"
        ' goto to_queue comment "copgate: quic"',
        "tcp dport { 443, 8443 } ct direction original ct mark & 0x40000000 != 0x40000000"
        ' goto to_queue comment "copgate: tls"',
        'tcp dport { 443, 8443 } return comment "copgate: tls, nothing to judge"',
        'tcp dport { 53, 443, 8443, 80 } return comment "copgate: never refused"',
        'udp dport 53 return comment "copgate: never refused"',
        "tcp dport 80 tcp flags & (fin|syn|rst|ack) == syn goto to_queue"
        ' comment "copgate: http syn"',
        "tcp dport 80 ct direction original ip length . tcp doff { 41-65535 . 5,",
        "tcp dport 80 ct direction original ip6 length . tcp doff { 21-65535 . 5,",
        '77-65535 . 14, 81-65535 . 15 } goto to_queue comment "copgate: http"',
        '57-65535 . 14, 61-65535 . 15 } goto to_queue comment "copgate: http"',
        'goto open comment "copgate: fails open"',
        'queue num 7 bypass comment "copgate: queue 7"',
        'queue num 8 comment "copgate: queue 8"',
    ]
    for fragment in expected:
        assert fragment in body, fragment


def test_nft_single_family() -> None:
    text = render_nft(FirewallSpec(("br-lan",), families=(Family.IPV4,)))
    assert 'meta nfproto ipv4 iifname "br-lan" jump from_lan' in text


def test_nft_text_passes_nft_check() -> None:
    assert_nft_accepted(render_nft(FULL))


def test_nft_text_with_failure_modes_and_one_family_passes_nft_check() -> None:
    assert_nft_accepted(render_nft(FAILING))
    assert_nft_accepted(render_nft(dataclasses.replace(FAILING, families=(Family.IPV4,))))
