"""What a block is answered with: the forged DNS answer, the query it echoes,
the block page's address.

``dns_reply`` turns a blocked (or safe-search) DNS decision into the
``DnsReply`` the forge builds: the configured block answer (NXDOMAIN, null
addresses or the router's block-page addresses) with its EDE and reason, NODATA
for a filtered record type, or a CNAME to a safe-search endpoint.
``tcp_query`` and ``query_message`` give the query a DNS-over-TCP answer
echoes. ``blockpage_location`` is where a blocked HTTP request is redirected.
The engine (``copgate.daemon.engine``) decides when each applies.

This module is pure: values in, values out; it never sends anything.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from copgate.errors import WireError
from copgate.forge.blockpage import block_page_url
from copgate.forge.dns_reply import EDE_BLOCKED, EDE_FILTERED, DnsReply, ReplyKind
from copgate.policy.decision import Decision, Verdict
from copgate.policy.model import DnsBlockAnswer, Settings
from copgate.wire.dns import HEADER_SIZE, TCP_LENGTH_SIZE, question_end
from copgate.wire.question import DnsQuery, Question

IpAddress = IPv4Address | IPv6Address
SafeTargets = dict[str, tuple[tuple[IPv4Address, ...], tuple[IPv6Address, ...]]]
"""Safe endpoint name -> its A and AAAA addresses (the edge refreshes them)."""

NULL_IPV4 = IPv4Address("0.0.0.0")
NULL_IPV6 = IPv6Address("::")


def dns_reply(decision: Decision, settings: Settings, safe_targets: SafeTargets) -> DnsReply:
    """The answer for a blocked or safe-search DNS question."""
    ttl = settings.block_ttl
    text = f"copgate: {decision.reason}"
    if decision.verdict is Verdict.SAFESEARCH and decision.safe_target:
        v4, v6 = safe_targets.get(decision.safe_target, ((), ()))
        return DnsReply(
            ReplyKind.CNAME,
            ttl,
            target=decision.safe_target,
            target_ipv4=v4,
            target_ipv6=v6,
            ede=None,
        )
    if decision.dns_nodata:
        return DnsReply(ReplyKind.NODATA, ttl, ede=EDE_FILTERED, ede_text=text)
    if settings.dns_block is DnsBlockAnswer.NXDOMAIN:
        return DnsReply(ReplyKind.NXDOMAIN, ttl, ede=EDE_BLOCKED, ede_text=text)
    if settings.dns_block is DnsBlockAnswer.NULL:
        return DnsReply(
            ReplyKind.ADDRESS, ttl, NULL_IPV4, NULL_IPV6, ede=EDE_BLOCKED, ede_text=text
        )
    return DnsReply(
        ReplyKind.ADDRESS,
        ttl,
        settings.blockpage_ipv4 or NULL_IPV4,
        settings.blockpage_ipv6 or NULL_IPV6,
        ede=EDE_BLOCKED,
        ede_text=text,
    )


def blockpage_location(
    settings: Settings,
    version: int,
    name: str,
    why: str,
    served: frozenset[IpAddress] | None = None,
    *,
    decision: Decision | None = None,
) -> str | None:
    """The block page's URL for a request that came over IP ``version`` (4 or 6).

    None when the router has no block-page address of that family, or has
    one but ``served`` (the addresses the daemon could listen on) lacks it:
    the other family's address is no answer (see ``copgate.daemon.engine``'s
    docstring), so the caller sends the page itself.
    """
    address = settings.blockpage_ipv6 if version == 6 else settings.blockpage_ipv4
    if address is None or (served is not None and address not in served):
        return None
    if decision is None:
        return block_page_url(address, name, why)
    return block_page_url(
        address,
        name,
        why,
        group=decision.group,
        category=decision.category or "",
        list_name=decision.list_name or "",
    )


def tcp_query(payload: bytes, query: DnsQuery) -> bytes | None:
    """The query message itself when this segment holds exactly it (its usual shape).

    Its question is then echoed byte for byte, case included, as over UDP;
    a query split across segments or sharing one falls back to a rebuilt
    message (``query_message``).
    """
    if len(payload) < TCP_LENGTH_SIZE + HEADER_SIZE:
        return None
    length = int.from_bytes(payload[:TCP_LENGTH_SIZE], "big")
    message = payload[TCP_LENGTH_SIZE:]
    if length != len(message) or int.from_bytes(message[:2], "big") != query.msg_id:
        return None
    try:
        whole = question_end(message) <= len(message)
    except WireError:
        return None
    return message if whole else None


def query_message(question: Question) -> bytes:
    """A DNS query message for a question read from a TCP stream (its bytes are gone)."""
    query = question.dns
    assert query is not None and question.name is not None
    labels = [label.encode("ascii", "replace") for label in question.name.text.split(".") if label]
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    header = query.msg_id.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    return header + name + query.qtype.to_bytes(2, "big") + query.qclass.to_bytes(2, "big")
