"""The config vocabulary as tables: every option, its converter and its defaults.

UCI and TOML use the same option names (a UCI ``list`` is a TOML array), so
one table per section kind serves both. ``many`` marks list options (a single
``option`` is taken as a one-element list); ``in_template`` is false for the
options that say who is in a group, which a template must not set;
``category`` marks category values: an alias is read as its category
(``CATEGORY_ALIASES``), which is checked against the list catalogue when one
is given.

Defaults that depend on a group's mode are in ``copgate.policy.model``
(``MODE_DEFAULTS``) and, for safe search and YouTube, in ``SAFE_DEFAULTS``
here. This module is data; it never reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from copgate.config import values
from copgate.daemon import ring
from copgate.firewall.backend import BackendChoice
from copgate.firewall.model import MAX_QUEUE_RATE, QUEUE_BURST, QUEUE_RATE
from copgate.policy.model import (
    DnsBlockAnswer,
    FailureMode,
    Mode,
    Treatment,
    YouTubeMode,
)

MAX_BLOCK_TTL = 86400  # a day: a longer negative cache would outlive a list update (RFC 2308 §5)
DEFAULT_BLOCK_TTL = 300
DEFAULT_LISTS = ("/usr/share/copgate/lists.cache",)
"""The package's built-in lists: on flash (``/usr/share``), so a router filters
from its first boot and after every reboot; ``/var`` is RAM on OpenWrt."""
DEFAULT_TLS_PORTS = (443,)
DEFAULT_LOG_ENTRIES = ring.DEFAULT_CAPACITY
"""Decisions ``copgate log`` keeps: the ring's bound (``MAX_CAPACITY``) is the option's."""
DEFAULT_LAN_INTERFACES = ("br-lan",)
"""OpenWrt's LAN bridge."""
DEFAULT_PAGE_NAME = "blocked.copgate.lan"
"""The block page's own name (``copgate.requests.pagename``)."""
DEFAULT_REPORTS_DIR = "/etc/copgate/reports"
"""Flash: requests and reports survive a reboot (``copgate.requests.store``)."""
DEFAULT_QUEUE_RATE = QUEUE_RATE
DEFAULT_QUEUE_BURST = QUEUE_BURST
"""The per-client rate in front of the queue: the firewall's defaults and bound
(``MAX_QUEUE_RATE``), since the kernel rules are what enforce it."""


CATEGORY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "ads": "publicite",
        "aggressive": "agressif",
        "drugs": "drogue",
        "mail": "forums",
        "porn": "adult",
        "proxy": "redirector",
        "violence": "agressif",
    }
)
"""Other names of categories: the shipped manifest's ``[aliases]``
(``lists/manifest.toml``, UT1's alias directories). ``copgate compile`` files
a source named ``porn`` under ``adult``, so a config that says ``porn`` means
``adult`` too, not a category no list fills. A constant rather than the
manifest read at load time: a router carries the compiled caches, not the
manifest, and every caller of the loader (the daemon, reload, ``config
check``, ``check``) gets the same answer with no list I/O in it.
``tests/config/test_schema.py`` fails when the manifest's table and this one
differ."""


@dataclass(frozen=True, slots=True)
class Spec:
    """How one option is read."""

    convert: Callable[[object], object]
    many: bool = False
    """A list option: several values (UCI ``list`` lines, a TOML array)."""
    in_template: bool = True
    """False for the options a template may not set (who is in the group)."""
    category: bool = False
    """Each value is a category: an alias is read as its category
    (``CATEGORY_ALIASES``, with a warning), which must be one of the
    catalogue's when one is given."""


GENERAL: Mapping[str, Spec] = MappingProxyType(
    {
        "lists": Spec(values.path_text, many=True),
        "timezone": Spec(values.tz_string),
        "dns_block": Spec(values.choice(DnsBlockAnswer)),
        "blockpage_ipv4": Spec(values.router_ipv4),
        "blockpage_ipv6": Spec(values.router_ipv6),
        "block_ttl": Spec(values.integer(0, MAX_BLOCK_TTL)),
        "tls_ports": Spec(values.port, many=True),
        "lan_interfaces": Spec(values.interface, many=True),
        "queue_rate": Spec(values.integer(0, MAX_QUEUE_RATE)),
        "queue_burst": Spec(values.integer(1, MAX_QUEUE_RATE)),
        "default_group": Spec(values.group_name),
        "page_name": Spec(values.host_name),
        "reports_dir": Spec(values.path_text),
        "reports_url": Spec(values.http_url),
        "reports_token": Spec(values.text),
        "log_entries": Spec(values.integer(0, ring.MAX_CAPACITY)),
        "log_allowed": Spec(values.boolean),
        "metrics_listen": Spec(values.listen_address),
        "enabled": Spec(values.boolean),
        "firewall_backend": Spec(values.choice(BackendChoice)),
    }
)

BYPASS_SWITCHES = (
    "block_dot",
    "block_doh",
    "canaries",
    "https_records_nodata",
    "refuse_real_ech",
    "refuse_quic",
    "refuse_bare_ip",
)
"""The ``Bypass`` fields, in order; each is a boolean option of a group."""

GROUP: Mapping[str, Spec] = MappingProxyType(
    {
        "template": Spec(values.template_name, in_template=False),
        "description": Spec(values.text),
        "mode": Spec(values.choice(Mode)),
        "interfaces": Spec(values.interface, many=True, in_template=False),
        "addresses": Spec(values.network, many=True, in_template=False),
        "macs": Spec(values.mac, many=True, in_template=False),
        "block_categories": Spec(values.category, many=True, category=True),
        "allow_categories": Spec(values.category, many=True, category=True),
        "allow": Spec(values.host_name, many=True),
        "block": Spec(values.host_name, many=True),
        "safe_search": Spec(values.boolean),
        "youtube": Spec(values.choice(YouTubeMode)),
        "failure": Spec(values.choice(FailureMode)),
        "unreadable": Spec(values.choice(Treatment)),
        "invalid_names": Spec(values.choice(Treatment)),
        "evasion": Spec(values.choice(Treatment)),
        **{switch: Spec(values.boolean) for switch in BYPASS_SWITCHES},
    }
)

WINDOW: Mapping[str, Spec] = MappingProxyType(
    {
        "group": Spec(values.group_name),
        "days": Spec(values.days, many=True),
        "start": Spec(values.clock_start),
        "end": Spec(values.clock_end),
        "block": Spec(values.block_word),
        "categories": Spec(values.category, many=True, category=True),
    }
)

SAFE_DEFAULTS: Mapping[Mode, tuple[bool, YouTubeMode]] = MappingProxyType(
    {
        # Safe search is on wherever anything is filtered; YouTube's strict
        # restricted mode hides much school material, so a category filter
        # gets the moderate one and the walled garden the strict one.
        Mode.FILTER: (True, YouTubeMode.MODERATE),
        Mode.WHITELIST: (True, YouTubeMode.STRICT),
        Mode.OFF: (False, YouTubeMode.OFF),
    }
)
"""(safe_search, youtube) for a group whose config and template set neither."""

UNUSED_BY_MODE: Mapping[Mode, tuple[str, ...]] = MappingProxyType(
    {
        Mode.FILTER: ("allow_categories",),
        Mode.WHITELIST: ("block_categories",),
        Mode.OFF: ("block_categories", "allow_categories"),
    }
)
"""Options a group may set that its mode ignores: a warning, not an error."""
