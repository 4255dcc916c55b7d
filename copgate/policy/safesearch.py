"""Safe-search engines, their official safe endpoints, and the DoH canary names.

This is data, held in code so that policy needs no file to enforce it;
lists/safesearch.txt carries the same table for operators to read, and a test
checks the two agree. Every engine here documents DNS-based enforcement: the
network answers the engine's names with the safe endpoint (a CNAME, or its
addresses), and the engine then serves only filtered results.

Names match exactly: ``www.google.com`` is rewritten, ``mail.google.com`` is
not. This module never resolves names; the daemon resolves the endpoints and
passes their addresses to the decision layer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from copgate.policy.model import YouTubeMode


class Engine(enum.StrEnum):
    """A search or media engine with an official DNS-enforced safe mode."""

    GOOGLE = "google"
    YOUTUBE = "youtube"
    BING = "bing"
    DUCKDUCKGO = "duckduckgo"
    PIXABAY = "pixabay"


# Google: "Lock SafeSearch for devices & networks you manage"
# (https://support.google.com/websearch/answer/186669): map every Google
# search domain to forcesafesearch.google.com. The country domains are those
# of https://www.google.com/supported_domains, which Google publishes for
# exactly this purpose (in its order and spelling, reflowed).
_SUPPORTED_DOMAINS = """
.google.com .google.ad .google.ae .google.com.af .google.com.ag .google.com.ai
.google.al .google.am .google.co.ao .google.com.ar .google.as .google.at
.google.com.au .google.az .google.ba .google.com.bd .google.be .google.bf
.google.bg .google.com.bh .google.bi .google.bj .google.com.bn .google.com.bo
.google.com.br .google.bs .google.bt .google.co.bw .google.by .google.com.bz
.google.ca .google.cd .google.cf .google.cg .google.ch .google.ci .google.co.ck
.google.cl .google.cm .google.cn .google.com.co .google.co.cr .google.com.cu
.google.cv .google.com.cy .google.cz .google.de .google.dj .google.dk .google.dm
.google.com.do .google.dz .google.com.ec .google.ee .google.com.eg .google.es
.google.com.et .google.fi .google.com.fj .google.fm .google.fr .google.ga
.google.ge .google.gg .google.com.gh .google.com.gi .google.gl .google.gm
.google.gr .google.com.gt .google.gy .google.com.hk .google.hn .google.hr
.google.ht .google.hu .google.co.id .google.ie .google.co.il .google.im
.google.co.in .google.iq .google.is .google.it .google.je .google.com.jm .google.jo
.google.co.jp .google.co.ke .google.com.kh .google.ki .google.kg .google.co.kr
.google.com.kw .google.kz .google.la .google.com.lb .google.li .google.lk
.google.co.ls .google.lt .google.lu .google.lv .google.com.ly .google.co.ma
.google.md .google.me .google.mg .google.mk .google.ml .google.com.mm .google.mn
.google.ms .google.com.mt .google.mu .google.mv .google.mw .google.com.mx
.google.com.my .google.co.mz .google.com.na .google.com.ng .google.com.ni
.google.ne .google.nl .google.no .google.com.np .google.nr .google.nu .google.co.nz
.google.com.om .google.com.pa .google.com.pe .google.com.pg .google.com.ph
.google.com.pk .google.pl .google.pn .google.com.pr .google.ps .google.pt
.google.com.py .google.com.qa .google.ro .google.ru .google.rw .google.com.sa
.google.com.sb .google.sc .google.se .google.com.sg .google.sh .google.si
.google.sk .google.com.sl .google.sn .google.so .google.sm .google.sr .google.st
.google.com.sv .google.td .google.tg .google.co.th .google.com.tj .google.tl
.google.tm .google.tn .google.to .google.com.tr .google.tt .google.com.tw
.google.co.tz .google.com.ua .google.co.ug .google.co.uk .google.com.uy
.google.co.uz .google.com.vc .google.co.ve .google.vg .google.co.vi .google.com.vn
.google.vu .google.ws .google.rs .google.co.za .google.co.zm .google.co.zw
.google.cat
"""
GOOGLE_SUFFIXES = tuple(entry.removeprefix(".google.") for entry in _SUPPORTED_DOMAINS.split())
# Google domains that earlier editions of supported_domains listed and that
# Google still holds: a client with an old bookmark must not escape.
GOOGLE_FORMER_SUFFIXES = ("ac", "cc", "gf", "gp", "com.lc", "com.nf", "tk")

# YouTube: "Manage your organization's YouTube settings", DNS method
# (https://support.google.com/a/answer/6214622): exactly these five names.
YOUTUBE_NAMES = (
    "www.youtube.com",
    "m.youtube.com",
    "youtubei.googleapis.com",
    "youtube.googleapis.com",
    "www.youtube-nocookie.com",
)
YOUTUBE_TARGETS: Mapping[YouTubeMode, str] = MappingProxyType(
    {
        YouTubeMode.STRICT: "restrict.youtube.com",
        YouTubeMode.MODERATE: "restrictmoderate.youtube.com",
    }
)

# Bing: "Block adult content with SafeSearch" for schools and networks
# (https://help.bing.microsoft.com/#apex/bing/en-us/10003/0): map www.bing.com.
BING_NAMES = ("www.bing.com",)
# DuckDuckGo: "Safe Search" help page
# (https://duckduckgo.com/duckduckgo-help-pages/features/safe-search/).
DUCKDUCKGO_NAMES = ("duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com")
# Pixabay: "How can I enforce SafeSearch on my network?"
# (https://pixabay.com/service/faq/): map pixabay.com to safesearch.pixabay.com.
PIXABAY_NAMES = ("pixabay.com",)

ENGINE_TARGETS: Mapping[Engine, str] = MappingProxyType(
    {
        Engine.GOOGLE: "forcesafesearch.google.com",
        Engine.BING: "strict.bing.com",
        Engine.DUCKDUCKGO: "safe.duckduckgo.com",
        Engine.PIXABAY: "safesearch.pixabay.com",
    }
)
"""Safe endpoint of each engine but YouTube, whose endpoint depends on the mode."""


def _google_names() -> tuple[str, ...]:
    names: list[str] = []
    for suffix in GOOGLE_SUFFIXES + GOOGLE_FORMER_SUFFIXES:
        names += [f"www.google.{suffix}", f"google.{suffix}"]
    return tuple(names)


ENGINE_NAMES: Mapping[str, Engine] = MappingProxyType(
    {
        **dict.fromkeys(_google_names(), Engine.GOOGLE),
        **dict.fromkeys(YOUTUBE_NAMES, Engine.YOUTUBE),
        **dict.fromkeys(BING_NAMES, Engine.BING),
        **dict.fromkeys(DUCKDUCKGO_NAMES, Engine.DUCKDUCKGO),
        **dict.fromkeys(PIXABAY_NAMES, Engine.PIXABAY),
    }
)
"""Every name answered with a safe endpoint, and its engine."""

SAFE_ENDPOINTS: tuple[str, ...] = (*ENGINE_TARGETS.values(), *YOUTUBE_TARGETS.values())
"""The names the daemon resolves to fill the decision layer's ``safe_addresses``."""

# Canaries: names whose negative answer tells a client that the network
# filters, so it keeps using the network's resolver.
# - use-application-dns.net: Firefox disables its default DoH
#   (https://support.mozilla.org/kb/canary-domain-use-application-dnsnet).
# - mask.icloud.com, mask-h2.icloud.com: Apple disables iCloud Private Relay
#   ("Prepare your network or web server for iCloud Private Relay",
#   https://developer.apple.com/support/prepare-your-network-for-icloud-private-relay/).
CANARIES = frozenset({"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"})

# Discovery of Designated Resolvers (RFC 9462 §4): a client asks for the SVCB
# records of _dns.resolver.arpa to upgrade to the network resolver's DoH/DoT.
# No data keeps it on port 53, where copgate reads the questions.
DDR_NAME = "_dns.resolver.arpa"


@dataclass(frozen=True, slots=True)
class SafeTarget:
    """Where a safe-search name is sent for a group."""

    engine: Engine
    target: str
    """The safe endpoint name (``forcesafesearch.google.com``...)."""


def safe_target(name: str, safe_search: bool, youtube: YouTubeMode) -> SafeTarget | None:
    """The safe endpoint for ``name`` under a group's switches, or None.

    ``safe_search`` covers every engine but YouTube; ``youtube`` covers YouTube.
    """
    engine = ENGINE_NAMES.get(name)
    if engine is None:
        return None
    if engine is Engine.YOUTUBE:
        target = YOUTUBE_TARGETS.get(youtube)
        return None if target is None else SafeTarget(engine, target)
    if not safe_search:
        return None
    return SafeTarget(engine, ENGINE_TARGETS[engine])
