"""How each list format says "block this host", one line at a time.

Each ``*_tokens`` function takes one stripped line of its format and yields
``(host text, None)`` for every candidate host the line blocks, or
``(what to show, reason)`` for what it skips; ``normalise`` then turns a
candidate into a normalised name or a reason (``copgate.wire.names``).
``copgate.lists.sources`` drives them over whole files.

A name is only ever taken where the source blocks that whole host. What
blocks less than the host (a URL path, a redirect to a real address, a
forwarding rule, an adblock rule limited to images) is skipped, because a
host block would break the rest of that site:

- every format: leading dots (``.afshin.ir``) and ``*.`` (``*.example.com``
  is ``example.com``: a listed name covers its subdomains anyway) are
  dropped; IP addresses, ``localhost`` names, other wildcards, URLs and
  invalid names are skipped with their reason.
- domains: one name a line, ``#`` comments (also after the name).
- hosts: only names mapped to a sink address (``0.0.0.0``, ``127.0.0.1``,
  ``::``, ``::1``) are blocks. ``216.239.38.120 www.google.com`` is a
  safe-search redirect, not a block, and is skipped. A bare name on its own
  line is taken (some lists mix the forms).
- dnsmasq: ``server=/n/`` and ``local=/n/`` with no upstream, and
  ``address=/n/`` with no address, ``#`` or a sink address, are blocks;
  ``server=/n/1.2.3.4`` forwards and ``address=/n/1.2.3.4`` redirects.
  Several names in one directive (``/a/b/``) are all read; ``/#/`` (every
  name) never is.
- adblock: only ``||name^`` (or ``||name^|``) rules. ``||name`` without the
  separator is a prefix pattern (``||ads.`` is one), and bare words are
  substring patterns (``_ads.js``); neither is read as a name. Options are
  accepted when they leave the rule about the host as a whole: ``important``
  (a priority between rules, meaningless here), the party options
  (``third-party``/``3p``, ``first-party``/``1p`` and their ``~`` forms: a
  name filter cannot tell parties apart, and a list that blocks a host as a
  third party names a host it wants gone), ``document``/``doc`` (blocks
  visiting the host, which is what a name block does), ``all`` (wider than a
  name block) and ``match-case`` (names have no case). Content-type options
  (``script``, ``image``...) and everything that changes the rule's meaning
  (``domain=``, ``denyallow=``, ``badfilter``, ``dnstype=``, ``dnsrewrite=``,
  ``redirect``...) are skipped: they block part of a host that otherwise
  works, or depend on what a name filter never sees.
- adblock exception rules (``@@||name^``) are skipped and counted as
  ``exception rule``, not turned into white entries: in an ad blocker an
  exception only lifts that same list's own blocks, while a copgate white
  entry would beat every black list of the group.

This module holds pure functions over strings; it reads no file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from copgate.wire.names import name_from_bytes

# Skip reasons, as the report shows them. Invalid names are counted by the
# reason copgate.wire.names gives.
DUPLICATE = "duplicate"
IP_ADDRESS = "ip address"
LOCALHOST = "localhost entry"
WILDCARD = "wildcard pattern"
URL = "url or path, not a host"
NUMERIC_TLD = "all-numeric top-level label"
SEVERAL_WORDS = "several words on a line"
NO_NAME = "address without a name"
NOT_SINK = "address is not a sink (a redirect, not a block)"
EXCEPTION = "exception rule"
COSMETIC = "cosmetic rule"
REGEX = "regex rule"
NOT_DOMAIN_RULE = "not a domain rule"
PREFIX = "prefix pattern (no ^), not a domain rule"
OPTIONS = "options a name filter cannot honour"
OTHER_DIRECTIVE = "other dnsmasq directive"
MALFORMED = "malformed dnsmasq line"
FORWARD = "forwarding rule, not a block"
REDIRECT = "address redirect, not a block"
EVERY_NAME = "matches every name"

# Names that hosts files carry for the machine itself, never sites.
LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "localdomain", "local", "broadcasthost"}
)

# Adblock element hiding, scriptlets and HTML filtering: ##, #@#, #?#, #$#,
# #%#, #@$#..., $$ and $@$.
COSMETIC_MARK = re.compile(r"#@?[?$%]?#|\$@?\$")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch
_DNSMASQ_BLOCKS = frozenset({"server", "address", "local"})

# Adblock options that leave a domain rule about the whole host (module docstring).
_HOST_OPTIONS = frozenset(
    {
        "important",
        "third-party",
        "3p",
        "~third-party",
        "first-party",
        "1p",
        "~first-party",
        "document",
        "doc",
        "all",
        "match-case",
    }
)

_Ip = ipaddress.IPv4Address | ipaddress.IPv6Address
Tokens = Iterator[tuple[str, str | None]]
"""(host text, None) for a candidate name, or (what to show, skip reason)."""


def clean_line(line: str) -> str:
    """A line without surrounding blanks, line end or byte-order mark."""
    line = line.strip()
    if line.startswith("\ufeff"):
        line = line.lstrip("\ufeff").strip()
    return line


def normalise(token: str) -> tuple[str, str | None]:
    """(name, None) for a host token that is a valid name, or (token, reason)."""
    bare = token
    while bare.startswith("*."):
        bare = bare[2:]
    bare = bare.lstrip(".")
    if bare[-1:].isdigit() and _IPV4(bare):
        return token, IP_ADDRESS  # common in UT1; ipaddress is slow to say so
    if "*" in bare:
        return token, WILDCARD
    if "/" in bare:
        return token, IP_ADDRESS if _network(bare) else URL
    name = name_from_bytes(bare.encode("utf-8", "surrogateescape"))
    if not name.valid:
        if ":" in bare and ip_of(bare) is not None:
            return token, IP_ADDRESS
        return token, name.reason
    text = name.text
    if text[-1].isdigit() and text.rpartition(".")[2].isdigit():
        return token, IP_ADDRESS if ip_of(text) is not None else NUMERIC_TLD
    if text in LOCAL_NAMES or _is_ip6_local(text):
        return token, LOCALHOST
    return text, None


def _is_ip6_local(text: str) -> bool:
    # ip6-localhost, ip6-loopback, ip6-allnodes...: Debian's /etc/hosts names.
    return text.startswith("ip6-") and "." not in text


def ip_of(text: str) -> _Ip | None:
    """The IP address ``text`` spells (``[::1]`` too), or None."""
    if ":" not in text and not text[-1:].isdigit():
        return None
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _is_sink(address: _Ip) -> bool:
    return address.is_unspecified or address.is_loopback


def domains_tokens(line: str) -> Tokens:
    """One name a line, ``#`` comments anywhere."""
    if "#" in line:
        line = line.partition("#")[0].strip()
    if not line:
        return
    if len(line.split()) > 1:
        yield line, SEVERAL_WORDS
        return
    yield line, None


def hosts_tokens(line: str) -> Tokens:
    """``ADDRESS NAME [NAME...]``: the names are blocks when the address is a sink."""
    if "#" in line:
        line = line.partition("#")[0].strip()
    if not line:
        return
    words = line.split()
    address = ip_of(words[0])
    if address is None:
        # A bare name in a hosts file is taken: some lists mix the two forms.
        yield (line, SEVERAL_WORDS) if len(words) > 1 else (line, None)
        return
    if len(words) == 1:
        yield line, NO_NAME
        return
    sink = _is_sink(address)
    for word in words[1:]:
        lowered = word.lower()
        if lowered in LOCAL_NAMES or _is_ip6_local(lowered):
            yield word, LOCALHOST
        elif sink:
            yield word, None
        else:
            yield line, NOT_SINK


def adblock_tokens(line: str) -> Tokens:
    """``||name^`` with options that keep it about the host; every other rule is skipped."""
    if not line or line.startswith("!") or (line.startswith("[") and line.endswith("]")):
        return
    if COSMETIC_MARK.search(line):
        yield line, COSMETIC
        return
    if line.startswith("#"):
        return
    if line.startswith("@@"):
        yield line, EXCEPTION
        return
    if line.startswith("/") and (line.endswith("/") or "/$" in line):
        yield line, REGEX
        return
    if not line.startswith("||"):
        yield line, NOT_DOMAIN_RULE
        return
    rule, dollar, options = line[2:].partition("$")
    if rule.endswith("^|"):
        rule = rule[:-2]
    elif rule.endswith("^"):
        rule = rule[:-1]
    else:
        # ||ads. is a prefix pattern: it also blocks ads.example.com.
        yield line, URL if any(c in rule for c in "/^?:") else PREFIX
        return
    if any(c in rule for c in "/^?:|"):
        yield line, URL
        return
    if dollar and not _host_options(options):
        yield line, OPTIONS
        return
    yield rule, None


def _host_options(options: str) -> bool:
    return all(option.strip().lower() in _HOST_OPTIONS for option in options.split(","))


def dnsmasq_tokens(line: str) -> Tokens:
    """``server=``, ``local=``, ``address=`` with ``/name/...``: blocks when answered locally."""
    if not line or line.startswith("#"):
        return
    key, equals, value = line.partition("=")
    key = key.strip().lstrip("-").lower()
    value = value.strip()
    if not equals or key not in _DNSMASQ_BLOCKS or (key == "server" and value[:1] != "/"):
        # server=1.2.3.4 is a global upstream, not about any name.
        yield line, OTHER_DIRECTIVE
        return
    parts = value.split("/")
    if len(parts) < 3 or parts[0]:
        yield line, MALFORMED
        return
    verdict = _dnsmasq_verdict(key, parts[-1].strip())
    for domain in parts[1:-1]:
        if domain.strip() == "#":
            yield line, EVERY_NAME
        elif verdict is not None:
            yield line, verdict
        else:
            yield domain.strip(), None


def _dnsmasq_verdict(key: str, target: str) -> str | None:
    """None when the directive blocks its names, else why it does not."""
    if not target:
        return None
    if key != "address":
        # server=/n/# and server=/n/1.2.3.4 send n to some resolver.
        return FORWARD
    if target == "#":
        return None
    address = ip_of(target)
    return None if address is not None and _is_sink(address) else REDIRECT
