"""``copgate demo``'s probes and its table: what is asked, what counts as a pass.

The demo builds the lab (``topology.Lab``) with the default lists and the
school config of ``gateway``, then runs the probes of ``PROBES`` from real
clients. This module is the pure half: the plan of probes, how a client's
result is read (``seen_in_dns``, ``seen_in_http``), how the daemon's log line
for the same question is found (``parse_decisions``, ``find_decision``),
and how a row is judged and printed (``judge``, ``render_table``). It never
runs a process, reads a file or the clock; ``copgate.tools.demo_cmd`` does.

A probe passes only when both ends agree with the plan: the client saw what
the plan expects (a forged NXDOMAIN with its Extended DNS Error, a reset, the
block page, the real server's page...) and the daemon logged a decision for
that very question (kind, name and client address) whose verdict matches.
Anything else is a failed row, shown as failed: the demo never prints a pass
it did not see.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from copgate.lab import plan
from copgate.lab.clients import DnsResult, HttpResult

IpAddress = IPv4Address | IPv6Address

OUTSIDE_RESOLVER = plan.host("ns.example").v4
"""A resolver on the internet side: a client that hard-codes one is still filtered."""
BLOCKPAGE_HOSTS = frozenset({str(plan.LAN.router_v4), str(plan.LAN.router_v6)})
"""The block page's addresses in the lab config (``blockpage_ipv4``, ``blockpage_ipv6``)."""
EDE_NAMES = {15: "Blocked", 16: "Censored", 17: "Filtered"}  # RFC 8914 §5.2
SAFE_ENDPOINTS = frozenset(
    {
        "forcesafesearch.google.com",
        "restrict.youtube.com",
        "restrictmoderate.youtube.com",
        "strict.bing.com",
        "safe.duckduckgo.com",
    }
)
"""The safe-search endpoints a CNAME may point to (the ones the lab serves)."""

GROUPS = {
    "pupil": ("pupils", "primary walled garden: white list only"),
    "teen": ("teens", "teenager filter, safe search"),
    "staff": ("staff", "not filtered"),
    "lan2": ("lab2", "school template, by interface lan2"),
}
"""Each lab client's group in ``gateway.CONFIG`` (a test holds them together)."""


class Method(enum.Enum):
    """How a probe asks: the client tool and the protocol on the wire."""

    DNS = "DNS"
    """dig over UDP."""
    DNS_TCP = "DNS/TCP"
    HTTPS = "HTTPS"
    """curl, TLS over TCP, the name pinned with --resolve: only the SNI tells it."""
    HTTP = "HTTP"
    """curl, plain HTTP, pinned: only the Host header tells it."""
    HTTP3 = "HTTP/3"
    """aioquic over QUIC v1, to the address: only the QUIC Initial's SNI tells it."""

    @property
    def log_kind(self) -> str:
        """The question kind the daemon logs for this method."""
        return _LOG_KIND[self]


_LOG_KIND = {
    Method.DNS: "dns",
    Method.DNS_TCP: "dns",
    Method.HTTPS: "tls",
    Method.HTTP: "http",
    Method.HTTP3: "quic",
}


class Seen(enum.Enum):
    """What the client saw, read from its output."""

    ADDRESSES = "addresses"
    """DNS: the real server's A or AAAA records."""
    SAFE_CNAME = "safe endpoint"
    """DNS: a CNAME to a safe-search endpoint."""
    FORGED_NXDOMAIN = "forged NXDOMAIN"
    """DNS: NXDOMAIN carrying an RFC 8914 Extended DNS Error (the lab's server sends none)."""
    NO_DATA = "no data"
    """DNS: NOERROR, no records, an Extended DNS Error."""
    PAGE = "page"
    """HTTP(S), HTTP/3: 200 and the lab server's page for the name asked."""
    RESET = "reset"
    """TLS: the connection reset during the handshake."""
    BLOCK_PAGE = "block page"
    """HTTP: a redirect to the gateway's block page."""
    NOTHING = "no answer"
    """The client timed out."""
    OTHER = "other"
    """Anything else: an error, an unexpected answer."""


VERDICT = {
    Seen.ADDRESSES: "allowed",
    Seen.PAGE: "allowed",
    Seen.SAFE_CNAME: "safe search",
    Seen.FORGED_NXDOMAIN: "blocked",
    Seen.RESET: "blocked",
    Seen.BLOCK_PAGE: "blocked",
    Seen.NO_DATA: "no data",
    Seen.NOTHING: "no answer",
    Seen.OTHER: "error",
}
"""The table's verdict column, from what the client saw."""

DAEMON_VERDICT = {
    Seen.ADDRESSES: "allow",
    Seen.PAGE: "allow",
    Seen.SAFE_CNAME: "safesearch",
    Seen.FORGED_NXDOMAIN: "block",
    Seen.RESET: "block",
    Seen.BLOCK_PAGE: "block",
    Seen.NO_DATA: "block",
}
"""The verdict the daemon must have logged for a probe expecting this outcome."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One question a lab client asks through the gateway, and what must happen."""

    role: str
    """The lab client (``plan.CLIENTS``) that asks."""
    method: Method
    name: str
    expect: Seen
    note: str
    """Why this probe is in the demo, shown after what was asked."""
    family: int = 4
    qtype: str = "A"
    resolver: IpAddress | None = None
    """DNS: the server asked; None is the client's router."""

    @property
    def client_address(self) -> IpAddress:
        client = plan.client(self.role)
        return client.v4 if self.family == 4 else client.v6

    @property
    def server(self) -> IpAddress:
        """Where the packets go: the resolver, or the name's lab server (pinned)."""
        if self.method in (Method.DNS, Method.DNS_TCP):
            if self.resolver is not None:
                return self.resolver
            segment = plan.client(self.role).segment
            return segment.router_v4 if self.family == 4 else segment.router_v6
        host = plan.host(self.name)
        return host.v4 if self.family == 4 else host.v6

    @property
    def asked(self) -> str:
        """What was asked, as the table shows it."""
        if self.method in (Method.DNS, Method.DNS_TCP):
            text = f"{self.name} {self.qtype}"
            if self.resolver is not None:
                text += f" @{self.resolver}"
            return text
        scheme = "http" if self.method is Method.HTTP else "https"
        return f"{scheme}://{self.name}/"


PROBES: tuple[Probe, ...] = (
    Probe("pupil", Method.DNS, "white.example", Seen.ADDRESSES, "white-listed"),
    Probe("pupil", Method.DNS, "blocked.example", Seen.FORGED_NXDOMAIN, "walled garden"),
    Probe("pupil", Method.HTTPS, "games.example", Seen.RESET, "not white-listed, SNI only"),
    Probe("teen", Method.DNS, "blocked.example", Seen.FORGED_NXDOMAIN, "gambling"),
    Probe("teen", Method.DNS, "www.google.com", Seen.SAFE_CNAME, "safe search"),
    Probe("teen", Method.DNS, "use-application-dns.net", Seen.NO_DATA, "Firefox's canary"),
    Probe(
        "teen",
        Method.DNS_TCP,
        "blocked.example",
        Seen.FORGED_NXDOMAIN,
        "a hard-coded outside resolver",
        resolver=OUTSIDE_RESOLVER,
    ),
    Probe("teen", Method.HTTPS, "allowed.example", Seen.PAGE, "not listed"),
    Probe("teen", Method.HTTPS, "blocked.example", Seen.RESET, "SNI only"),
    Probe("teen", Method.HTTP, "blocked.example", Seen.BLOCK_PAGE, "Host header only"),
    Probe("teen", Method.HTTP3, "allowed.example", Seen.PAGE, "QUIC v1 Initial only"),
    Probe("teen", Method.HTTPS, "www.blocked.example", Seen.RESET, "IPv6, a subdomain", family=6),
    Probe("staff", Method.DNS, "blocked.example", Seen.ADDRESSES, "unfiltered"),
    Probe("lan2", Method.DNS, "social.example", Seen.FORGED_NXDOMAIN, "school template"),
)
"""The demo's probes, in the order they run and are printed."""


# -- reading what the client saw -----------------------------------------------


def _ede_text(codes: Sequence[int]) -> str:
    return ", ".join(f"EDE {code} {EDE_NAMES.get(code, '')}".rstrip() for code in codes)


def seen_in_dns(result: DnsResult) -> tuple[Seen, str]:
    """What a dig answer shows, and a short description for the table."""
    if not result.answered:
        return Seen.NOTHING, "no answer"
    cnames = [r.data.rstrip(".") for r in result.answer if r.rtype == "CNAME"]
    if result.status == "NOERROR" and any(name in SAFE_ENDPOINTS for name in cnames):
        return Seen.SAFE_CNAME, f"CNAME {cnames[0]}"
    if result.status == "NOERROR" and result.addresses:
        records = [f"{r.rtype} {r.data}" for r in result.answer if r.rtype in {"A", "AAAA"}]
        return Seen.ADDRESSES, ", ".join(records)
    if result.status == "NOERROR" and not result.answer and result.ede:
        return Seen.NO_DATA, f"no records, {_ede_text(result.ede)}"
    if result.status == "NXDOMAIN" and result.ede:
        return Seen.FORGED_NXDOMAIN, f"NXDOMAIN, {_ede_text(result.ede)}"
    ede = f", {_ede_text(result.ede)}" if result.ede else ""
    return Seen.OTHER, f"{result.status}, {len(result.answer)} records{ede}"


def seen_in_http(result: HttpResult, name: str) -> tuple[Seen, str]:
    """What curl or the HTTP/3 client got, and a short description for the table."""
    if result.status == 200 and result.page.get("host") == name:
        return Seen.PAGE, f"200 over {_http_version(result.http_version)}"
    if result.status in (301, 302, 303, 307) and _is_block_page(result.redirect):
        return Seen.BLOCK_PAGE, f"{result.status} to the block page"
    error = result.error or ""
    if result.status is None and "reset" in error.lower():
        return Seen.RESET, "TCP reset in the TLS handshake"
    if result.status is None and ("timed out" in error.lower() or "timeout" in error.lower()):
        return Seen.NOTHING, f"no answer ({error.strip()})"
    status = "no response" if result.status is None else f"status {result.status}"
    return Seen.OTHER, f"{status}: {error.strip()}" if error.strip() else status


def _http_version(version: str | None) -> str:
    """curl's ``2`` or the HTTP/3 client's ``h3/quic-0x1`` as a reader says them."""
    if version is None:
        return "HTTP"
    if version.startswith("h3/quic-0x"):
        return f"HTTP/3 (QUIC 0x{version.removeprefix('h3/quic-0x')})"
    return f"HTTP/{version}"


def _is_block_page(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.hostname in BLOCKPAGE_HOSTS and parts.path.startswith("/blocked")


# -- reading the daemon's log ----------------------------------------------------

_DECISION = re.compile(
    r"\b(?P<verdict>allow|block|safesearch) (?P<kind>dns|tls|quic|http) (?P<name>\S+)"
    r" client=(?P<client>\S+) group=(?P<group>\S+) rule=(?P<rule>\S+)"
    r" list=(?P<list>\S+) category=(?P<category>\S+) match=(?P<match>\S+): (?P<reason>.*)$"
)
"""The daemon's decision line (``copgate.daemon.run``, logged for every decision with -v)."""


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """One decision line of the daemon's log."""

    verdict: str
    kind: str
    name: str
    client: IpAddress | None
    group: str
    rule: str
    category: str | None
    reason: str


def _client_address(endpoint: str) -> IpAddress | None:
    """``192.0.2.10:5353`` or ``[2001:db8:1::11]:5353`` to its address."""
    host = (
        endpoint[1:].partition("]")[0] if endpoint.startswith("[") else endpoint.partition(":")[0]
    )
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_decisions(log: str) -> list[LoggedDecision]:
    """Every decision line of a piece of the daemon's log, in order."""
    found = []
    for line in log.splitlines():
        match = _DECISION.search(line)
        if match is None:
            continue
        category = match["category"]
        found.append(
            LoggedDecision(
                match["verdict"],
                match["kind"],
                match["name"],
                _client_address(match["client"]),
                match["group"],
                match["rule"],
                None if category == "None" else category,
                match["reason"],
            )
        )
    return found


def find_decision(decisions: Iterable[LoggedDecision], probe: Probe) -> LoggedDecision | None:
    """The first decision for the probe's own question: kind, name and client address."""
    for decision in decisions:
        if (
            decision.kind == probe.method.log_kind
            and decision.name == probe.name
            and decision.client == probe.client_address
        ):
            return decision
    return None


# -- judging and printing -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One probe's line of the table."""

    probe: Probe
    seen: Seen
    detail: str
    """What the client saw, in a few words."""
    decision: LoggedDecision | None
    passed: bool
    problem: str | None
    """Why a failed row failed; None when it passed."""

    @property
    def verdict(self) -> str:
        return VERDICT[self.seen]

    @property
    def reason(self) -> str:
        """The daemon's own reason, with the group, or why the row failed."""
        why = f"{self.decision.group}: {self.decision.reason}" if self.decision else ""
        if self.problem is None:
            return why
        return f"{self.problem}; {why}" if why else self.problem

    def as_json(self) -> dict[str, object]:
        """The row as JSON-ready values (``copgate demo --json``)."""
        decision = self.decision
        return {
            "client": self.probe.role,
            "address": str(self.probe.client_address),
            "protocol": self.probe.method.value,
            "asked": self.probe.asked,
            "note": self.probe.note,
            "verdict": self.verdict,
            "seen": self.seen.value,
            "detail": self.detail,
            "expected": self.probe.expect.value,
            "passed": self.passed,
            "problem": self.problem,
            "group": decision.group if decision else None,
            "rule": decision.rule if decision else None,
            "category": decision.category if decision else None,
            "reason": decision.reason if decision else None,
        }


def judge(probe: Probe, seen: Seen, detail: str, decision: LoggedDecision | None) -> Row:
    """The row of a probe: passed only if the client and the daemon's log both agree."""
    problem = None
    wanted = DAEMON_VERDICT.get(probe.expect)
    if seen is not probe.expect:
        problem = f"expected {probe.expect.value}"
    elif decision is None:
        problem = "no decision for this question in the daemon's log"
    elif decision.verdict != wanted:
        problem = f"the daemon logged {decision.verdict}, expected {wanted}"
    return Row(probe, seen, detail, decision, problem is None, problem)


HEADERS = ("", "CLIENT", "PROTO", "ASKED", "VERDICT", "WHAT THE CLIENT SAW", "WHY (copgate's log)")
WHY_INDENT = "      why: "
"""A reason that does not fit the width goes on its own line, after this."""


def _cells(row: Row) -> tuple[str, ...]:
    probe = row.probe
    return (
        "ok" if row.passed else "FAIL",
        probe.role if probe.family == 4 else f"{probe.role} (IPv6)",
        probe.method.value,
        probe.asked,
        row.verdict,
        row.detail,
        row.reason,
    )


def render_table(rows: Sequence[Row], width: int | None = None) -> str:
    """The table: one line per probe, columns aligned, the reason last.

    When a line would be wider than ``width`` (a terminal's), every reason
    goes on a line of its own under its row instead.
    """
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS) - 1)]
    fronts = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) for line in lines
    ]
    one_line = (
        width is None
        or max(len(front) + 2 + len(line[-1]) for front, line in zip(fronts, lines, strict=True))
        <= width
    )
    out = []
    for front, line in zip(fronts, lines, strict=True):
        if one_line:
            out.append(f"{front}  {line[-1]}".rstrip())
        elif line is HEADERS:
            out.append(front.rstrip())
        else:
            out += [front.rstrip(), f"{WHY_INDENT}{line[-1]}".rstrip()]
    return "\n".join(out) + "\n"


def intro(lab_id: str) -> str:
    """The lines above the table: who the clients are and how they ask."""
    resolver = OUTSIDE_RESOLVER
    lines = [
        f"copgate on the kernel's netfilter queue, in lab {lab_id}: LAN clients behind a",
        "gateway that runs copgate with the default lists and a school config, and real",
        "servers beyond it. The clients and their groups:",
    ]
    for role, (group, description) in GROUPS.items():
        address = str(plan.client(role).v4)
        lines.append(f"  {role:<6} {address:<13} {group:<7} {description}")
    lines += [
        "HTTPS, HTTP and HTTP/3 probes pin the name to its address (curl --resolve), so",
        "copgate sees it only in the TLS SNI, the HTTP Host or the QUIC Initial;",
        f"DNS goes to the client's router, or with @{resolver} to a resolver outside.",
    ]
    return "\n".join(lines) + "\n"


def summary(rows: Sequence[Row], seconds: float) -> str:
    """The last line: how many probes behaved as planned, and how long it took."""
    passed = sum(row.passed for row in rows)
    failed = len(rows) - passed
    failures = f", {failed} FAILED" if failed else ""
    return f"{passed} of {len(rows)} probes as expected{failures}, in {seconds:.1f} s"
