"""The block page's own name (``page_name``, default ``blocked.copgate.lan``).

Blocked HTTPS cannot be shown a page (the browser wants the real site's
certificate), so a child or parent opens the page by a fixed name instead,
where "recently blocked on this device" lists what was refused. The
gateway's own DNS decision answers that name, for every group and before
any list, with the block page's addresses: the name belongs to the router,
not to any list. The engine tells the name itself (a string compare on its
hot path); this module builds the decision and the forged answer's shape. Pure.
"""

from __future__ import annotations

from copgate.forge.dns_reply import DnsReply, ReplyKind
from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.model import Settings

DEFAULT_PAGE_NAME = "blocked.copgate.lan"
PAGE_NAME_TTL = 60
"""Seconds: short, so that a changed block-page address is picked up soon."""


def page_name_decision(group: str, page_name: str) -> Decision:
    why = f"{page_name} is the block page's own name: answered with the router's page address"
    return Decision(Verdict.ALLOW, group, RuleKind.WHITE_ENTRY, why, "copgate", None, page_name)


def page_name_reply(settings: Settings) -> DnsReply:
    """A and AAAA answers with the block page's addresses; a family without one gets no data."""
    return DnsReply(
        ReplyKind.ADDRESS,
        PAGE_NAME_TTL,
        settings.blockpage_ipv4,
        settings.blockpage_ipv6,
        ede=None,
    )
