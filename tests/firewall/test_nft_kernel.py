"""The nft backend for real: copgate's table loaded into a scratch namespace's kernel.

This kernel has no nftables ``queue`` expression (the lab's queue through
the xtables NFQUEUE target), so each ``queue num N [bypass]`` is swapped for
``counter goto nfqueue_N[_bypass]``, a chain declared for it: the kernel
then loads every other match and statement as written, and lists the queue
numbers back in the chains' names. The same spec's iptables plan is loaded
beside it with ``iptables-restore``, and the two kernels' listings are
compared rule by rule (a model rule is known in both by its comment): the
same ports, interfaces, marks, queue numbers, bypass, rates and verdicts.
Then the edge's ``remove`` leaves nothing, and fw4's offload rule (a
counter standing in for ``flow add @ft``, which needs a flowtable this
kernel lacks) is held back and released through the same edge.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest

from copgate.edges import iptables as iptables_edge
from copgate.edges import nft as nft_edge
from copgate.firewall import (
    CHAIN,
    EXCESS_CHAIN,
    FAILURE_CHAINS,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    QUEUE_CHAIN,
    RAW_CHAIN,
    REFUSE_CHAIN,
    REPLY_CHAIN,
    Family,
    FirewallSpec,
    WhenAbsent,
    render_iptables,
    render_nft,
)
from copgate.firewall.offload import COMMENT, OffloadRule, hold_back, offload_rules, release
from tests.firewall.helpers import FAILING, FULL
from tests.lab.conftest import require_lab

pytestmark = pytest.mark.lab

ROLES = {
    REFUSE_CHAIN: "refuse",
    CHAIN: "from_lan",
    QUEUE_CHAIN: "to_queue",
    FAILURE_CHAINS[WhenAbsent.PASS]: "open",
    FAILURE_CHAINS[WhenAbsent.DROP]: "closed",
    EXCESS_CHAIN: "excess",
    REPLY_CHAIN: "to_lan",
    RAW_CHAIN: "output_raw",
}
"""iptables chain -> the nft chain of the same model rules."""
IPT_VERDICTS = {
    "RETURN": "return",
    "DROP": "drop",
    "REJECT": "reject",
    "CT": "notrack",
    "CONNMARK": "mark-decided",
    OTHER_CHAIN: "reject",
    OTHER_PASS_CHAIN: "return",
}
Facts = dict[str, set[str]]


@pytest.fixture
def netns() -> Iterator[str]:
    require_lab(("ip", "nft", "iptables-restore", "ip6tables-restore"))
    name = f"cg-nft-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def _in(netns: str, *argv: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, check=True
    ).stdout


def without_queue(text: str) -> str:
    """``render_nft``'s text with each queue statement swapped for a counter and a goto."""
    targets = sorted(set(re.findall(r"queue num (\d+)( bypass)?", text)))
    swapped = re.sub(
        r"queue num (\d+)( bypass)?",
        lambda m: f"counter goto nfqueue_{m[1]}{'_bypass' if m[2] else ''}",
        text,
    )
    chains = "".join(
        f"\tchain nfqueue_{num}{'_bypass' if bypass else ''} {{\n\t\tcounter accept\n\t}}\n"
        for num, bypass in targets
    )
    head, _, tail = swapped.rpartition("}")
    return head + chains + "}" + tail


def _ports(words: str) -> set[str]:
    return {p.strip() for group in words.split(",") for p in [group] if p.strip()}


def nft_facts(listing: str) -> dict[tuple[str, str], Facts]:
    """(chain, comment) -> what the kernel's listing of copgate's table says of it."""
    facts: dict[tuple[str, str], Facts] = defaultdict(lambda: defaultdict(set))
    chain = ""
    for line in listing.splitlines():
        head = re.match(r"\s*chain (\S+) \{", line)
        if head:
            chain = head[1]
            continue
        comment = re.search(r'comment "([^"]*)"', line)
        if comment is None:
            continue
        rule = facts[(chain, comment[1])]
        for match in re.finditer(r"\b(sport|dport) (!= )?(?:\{ ([^}]*) \}|(\d+))", line):
            rule["ports"] |= {
                f"{match[1]}{match[2] or ''}{p}" for p in _ports(match[3] or match[4])
            }
        for match in re.finditer(r'\b(iif|oif)name (?:\{ ([^}]*) \}|("[^"]*"))', line):
            names = (match[2] or match[3]).replace('"', "")
            rule["interfaces"] |= {f"{match[1]}:{n.strip()}" for n in names.split(",")}
        for match in re.finditer(r"\b(ct|meta) mark & (0x[0-9a-f]+) (==|!=) (0x[0-9a-f]+)", line):
            rule["marks"].add(f"{match[1]}{match[3]}{int(match[2], 16):#x}")
        set_mark = re.search(r"ct mark set ct mark \| (0x[0-9a-f]+)", line)
        if set_mark:
            rule["marks"].add(f"set{int(set_mark[1], 16):#x}")
            rule["verdicts"] |= {"mark-decided"}
        queue = re.search(r"goto nfqueue_(\d+)(_bypass)?", line)
        if queue:
            rule["queues"].add(f"{queue[1]}{' bypass' if queue[2] else ''}")
            rule["verdicts"].add("queue")
        rate = re.search(r"limit rate over (\d+)/second burst (\d+) packets", line)
        if rate:
            rule["rates"].add(f"{rate[1]}/{rate[2]}")
            rule["verdicts"].add("excess")
        for verdict in ("return", "drop", "reject", "notrack"):
            if re.search(rf"\b{verdict}\b", line):
                rule["verdicts"].add(verdict)
        goto = re.search(r"\bgoto (to_queue|open|closed)\b", line)
        if goto:
            rule["verdicts"].add(goto[1])
    return {key: dict(value) for key, value in facts.items()}


def iptables_facts(saved: str) -> dict[tuple[str, str], Facts]:
    """The same facts from ``iptables-save`` of the filter and raw tables."""
    facts: dict[tuple[str, str], Facts] = defaultdict(lambda: defaultdict(set))
    for line in saved.splitlines():
        head = re.match(r"-A (\S+) ", line)
        comment = re.search(r'--comment (?:"([^"]*)"|(\S+))', line)
        if head is None or comment is None or head[1] not in ROLES:
            continue
        rule = facts[(ROLES[head[1]], comment[1] or comment[2])]
        for match in re.finditer(r"(!)? ?--([sd]port)s? (\S+)", line):
            rule["ports"] |= {
                f"{match[2]}{'!= ' if match[1] else ''}{p}" for p in match[3].split(",")
            }
        for flag, side in (("-i", "iif"), ("-o", "oif")):
            for name in re.findall(rf"(?:^| ){flag} (\S+)", line):
                rule["interfaces"].add(f"{side}:{name}")
        for match in re.finditer(r"-m (connmark|mark) (! )?--mark (0x[0-9a-f]+)/", line):
            kind = "ct" if match[1] == "connmark" else "meta"
            rule["marks"].add(f"{kind}{'!=' if match[2] else '=='}{int(match[3], 16):#x}")
        set_mark = re.search(r"--set-xmark (0x[0-9a-f]+)/", line)
        if set_mark:
            rule["marks"].add(f"set{int(set_mark[1], 16):#x}")
        queue = re.search(r"--queue-num (\d+)( --queue-bypass)?", line)
        if queue:
            rule["queues"].add(f"{queue[1]}{' bypass' if queue[2] else ''}")
        rate = re.search(r"--hashlimit-above (\d+)/sec --hashlimit-burst (\d+)", line)
        if rate:
            rule["rates"].add(f"{rate[1]}/{rate[2]}")
        name = re.findall(r" -[gj] (\S+)", line)[-1]
        if name == "NFQUEUE":
            rule["verdicts"].add("queue")
        elif name == EXCESS_CHAIN:
            rule["verdicts"].add("excess")
        elif name in ROLES:
            rule["verdicts"].add(ROLES[name])
        else:
            rule["verdicts"].add(IPT_VERDICTS[name])
    return {key: dict(value) for key, value in facts.items()}


def _nft_ports(facts: Facts) -> Facts:
    # nft says "dport != 53"; the iptables parser writes "dport!= 53": one form.
    return {k: {v.replace("!= ", "!=") for v in vs} for k, vs in facts.items()}


def _load_both(netns: str, spec: FirewallSpec) -> tuple[str, str]:
    nft_edge.apply(without_queue(render_nft(spec)), netns=netns)
    for family in Family:
        iptables_edge.apply(render_iptables(spec, family), netns=netns)
    listing = _in(netns, "nft", "list", "table", "inet", "copgate")
    saved = "".join(
        _in(netns, tool, "-t", table)
        for tool in ("iptables-save", "ip6tables-save")
        for table in ("filter", "raw")
    )
    return listing, saved


@pytest.mark.parametrize("spec", [FULL, FAILING], ids=["full", "failing"])
def test_the_kernel_holds_the_same_rules_from_both_backends(netns: str, spec: FirewallSpec) -> None:
    listing, saved = _load_both(netns, spec)
    from_nft = {key: _nft_ports(value) for key, value in nft_facts(listing).items()}
    from_iptables = {key: _nft_ports(value) for key, value in iptables_facts(saved).items()}
    # Interfaces in the base chains' jumps are the table's own: compare the rest.
    assert from_nft.keys() == from_iptables.keys()
    for key, facts in from_nft.items():
        assert facts == from_iptables[key], key
    queues = {q for facts in from_nft.values() for q in facts.get("queues", set())}
    assert queues == {f"{spec.queue_num} bypass", f"{spec.queue_num + 1}"} or queues == {
        f"{spec.queue_num} bypass"
    }
    iptables_edge.remove(netns=netns)


def test_apply_twice_then_remove_leaves_no_table(netns: str) -> None:
    for _ in range(2):  # the text deletes the older table in the same transaction
        nft_edge.apply(without_queue(render_nft(FULL)), netns=netns)
    assert "chain from_lan" in nft_edge.table_text(netns=netns)
    nft_edge.remove(netns=netns)
    assert nft_edge.table_text(netns=netns) == ""
    nft_edge.remove(netns=netns)  # already gone: quiet


FW4 = """table inet fw4 {
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tmeta l4proto { tcp, udp } counter
\t\tct state established,related accept
\t}
}
"""


def _fw4_rules(netns: str) -> tuple[OffloadRule, ...]:
    """The fake fw4 chain's offload rules, as ``offload_rules`` reads fw4's.

    A counter stands where fw4 writes ``flow add @ft`` (which needs a
    flowtable, which this kernel lacks): the listing is parsed with the word
    put back, and the commands run with the counter in its place."""
    listed = _in(netns, "nft", "-a", "list", "chain", "inet", "fw4", "forward")
    read = offload_rules(listed.replace("} counter", "} counter flow add @ft"))
    return tuple(
        dataclasses.replace(rule, text=rule.text.replace(" flow add @ft", "")) for rule in read
    )


def _run_all(netns: str, commands: tuple[str, ...]) -> None:
    subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "-f", "-"],
        input="\n".join(commands) + "\n",
        text=True,
        check=True,
    )


def test_fw4s_offload_rule_is_held_back_and_released(netns: str) -> None:
    nft_edge.apply(FW4, netns=netns)
    original = _in(netns, "nft", "list", "chain", "inet", "fw4", "forward")
    rules = _fw4_rules(netns)
    assert len(rules) == 1
    _run_all(netns, hold_back(rules, FULL.decided_mark, (443, 53, 80, 443)))
    held = _in(netns, "nft", "list", "chain", "inet", "fw4", "forward").splitlines()
    body = [line.strip() for line in held[3:-2]]
    # nft lists the ports of a ct proto-dst set in hex ("[invalid type]"):
    # it stores them in network order, as a port match does; see the netlink
    # dump below.
    unread = (
        "ct original proto-dst != { "
        + ", ".join(f"{port:#x} [invalid type]" for port in (53, 80, 443))
        + " }"
    )
    fw4 = "meta l4proto { tcp, udp } counter packets 0 bytes 0"
    assert body == [
        f"ct mark & 0x40000000 == 0x40000000 {fw4}",
        f'meta l4proto tcp {unread} {fw4} comment "{COMMENT}"',
        f'meta l4proto udp {unread} {fw4} comment "{COMMENT}"',
        "ct state established,related accept",
    ]
    dump = _in(netns, "nft", "--debug=netlink", "list", "chain", "inet", "fw4", "forward")
    assert "element 00003500" in dump and "element 0000bb01" in dump  # 53, 443 big-endian
    # Held back already: a second apply remakes only copgate's copies (new ports).
    again = hold_back(_fw4_rules(netns), FULL.decided_mark, (53, 443, 8443))
    assert [c.split()[0] for c in again] == ["delete", "delete", "add", "add"]
    _run_all(netns, again)
    listed = _in(netns, "nft", "list", "chain", "inet", "fw4", "forward")
    assert listed.count("0x20fb [invalid type]") == 2 and "0x50 [invalid" not in listed
    _run_all(netns, release(_fw4_rules(netns), FULL.decided_mark))
    assert _in(netns, "nft", "list", "chain", "inet", "fw4", "forward") == original
