"""Decisions that need no name: unreadable traffic, evasion, failures, firewall refusals.

Some traffic carries no name copgate can read (VPNs, SSH, SOCKS, DNS over
QUIC, TLS on other ports, non-TLS on 443); some flows do what only an evader
does (bytes past every bound, overlaps that disagree, a hello that never
completes before the flow expires); sometimes the daemon cannot decide
(a parser error, a full buffer, a bug); and some refusals are cheaper in the
firewall than in the queue (DNS over TLS on port 853). These functions turn a
group's switches into those decisions. They are pure: a group in, a value out.
"""

from __future__ import annotations

from dataclasses import dataclass

from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.model import FailureMode, Group, Mode, Treatment

DOT_PORT = 853  # RFC 7858 §3.1 (DNS over TLS); RFC 9250 §4.1.1 (DNS over QUIC, UDP)
QUIC_PORT = 443  # RFC 9114 §3.1: HTTP/3's default port


@dataclass(frozen=True, slots=True)
class Service:
    """A protocol and port (None: every port) the firewall treats apart."""

    protocol: str
    """``tcp``, ``udp``, ``icmp`` or ``ipv6-icmp`` (nftables ``meta l4proto`` names)."""
    port: int | None
    why: str


EXEMPT_FROM_UNREADABLE = (
    Service("udp", 123, "NTP (RFC 5905): without the time, certificates and windows fail"),
    Service("icmp", None, "ICMP: path MTU discovery and errors (RFC 1191)"),
    Service("ipv6-icmp", None, "ICMPv6: IPv6 does not work without it (RFC 4890)"),
)
"""Unreadable traffic that is never refused: refusing it breaks devices, not bypasses."""


@dataclass(frozen=True, slots=True)
class Refusals:
    """What the firewall refuses outright for a group, before anything is queued."""

    group: str
    dot: bool
    """TCP and UDP port 853: DNS over TLS, DNS over DTLS and DNS over QUIC."""
    quic: bool
    """UDP port 443: every QUIC flow, so browsers fall back to TCP."""
    unreadable: bool
    """Everything copgate does not read (DNS, HTTP, TLS ports, QUIC), except
    ``EXEMPT_FROM_UNREADABLE``."""

    @property
    def services(self) -> tuple[Service, ...]:
        """The fixed-port refusals as services (the unreadable rest is the renderer's)."""
        refused: list[Service] = []
        if self.dot:
            why = "DNS over TLS/QUIC cannot be read"
            refused += [Service("tcp", DOT_PORT, why), Service("udp", DOT_PORT, why)]
        if self.quic:
            refused.append(Service("udp", QUIC_PORT, "QUIC refused: browsers fall back to TCP"))
        return tuple(refused)


def refused_outright(group: Group) -> Refusals:
    """The refusals the firewall applies for ``group`` (none for mode off)."""
    if group.mode is Mode.OFF:
        return Refusals(group.name, dot=False, quic=False, unreadable=False)
    return Refusals(
        group.name,
        dot=group.bypass.block_dot,
        quic=group.bypass.refuse_quic,
        unreadable=group.unreadable is Treatment.REFUSE,
    )


def decide_unreadable(group: Group, what: str) -> Decision:
    """The decision for a flow copgate cannot read; ``what`` says what it is."""
    if group.mode is Mode.OFF:
        return Decision(Verdict.ALLOW, group.name, RuleKind.UNFILTERED, f"{what}: not filtered")
    if group.unreadable is Treatment.ALLOW:
        why = f"{what} cannot be read; this group allows such traffic"
        return Decision(Verdict.ALLOW, group.name, RuleKind.UNREADABLE, why)
    why = f"{what} cannot be read; this group refuses such traffic"
    return Decision(Verdict.BLOCK, group.name, RuleKind.UNREADABLE, why)


def decide_evasion(group: Group, trick: str) -> Decision:
    """The decision for a flow that looks like evasion; ``trick`` names what it did.

    Mode off allows it (nothing is filtered); a walled garden refuses it
    whatever its ``evasion`` option says, since a flow whose name was never
    judged is by definition not on its white list; a filter follows the option.
    """
    if group.mode is Mode.OFF:
        return Decision(Verdict.ALLOW, group.name, RuleKind.UNFILTERED, f"{trick}: not filtered")
    if group.mode is Mode.FILTER and group.evasion is Treatment.ALLOW:
        why = f"{trick}: looks like filter evasion; this group allows it"
        return Decision(Verdict.ALLOW, group.name, RuleKind.EVASION, why)
    why = f"{trick}: looks like filter evasion; this group refuses it"
    return Decision(Verdict.BLOCK, group.name, RuleKind.EVASION, why)


def failure_decision(group: Group, error: str | BaseException) -> Decision:
    """What the daemon does when it cannot decide: the group's failure mode."""
    detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    if group.mode is Mode.OFF:
        return Decision(Verdict.ALLOW, group.name, RuleKind.UNFILTERED, f"{detail}: not filtered")
    if group.failure is FailureMode.OPEN:
        why = f"could not decide ({detail}); failure mode open lets it through"
        return Decision(Verdict.ALLOW, group.name, RuleKind.FAILURE, why)
    why = f"could not decide ({detail}); failure mode closed refuses it"
    return Decision(Verdict.BLOCK, group.name, RuleKind.FAILURE, why)
