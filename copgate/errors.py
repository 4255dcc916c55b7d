"""The project's exception families.

The peer's fault is kept apart from ours: a malformed packet, a bad config
line, an untrusted update and a failed download are different things to the
caller. Every exception copgate raises on purpose derives from CopgateError.
This module defines classes only; it never raises or catches anything.
"""


class CopgateError(Exception):
    """Base of every error copgate raises on purpose."""


class WireError(CopgateError):
    """Bytes from the network are malformed: the peer's fault, never a crash."""


class CaptureError(CopgateError):
    """A capture file cannot be read (not pcap/pcapng, truncated header)."""


class ListSourceError(CopgateError):
    """A list source cannot be read at all (missing file, unknown format)."""


class CacheError(CopgateError):
    """A compiled list cache is truncated, corrupted or of an unknown version."""


class BudgetError(CacheError):
    """A compiled cache would not fit the size budget the operator set."""


class ConfigError(CopgateError):
    """A configuration file is invalid; the message names file, line and option."""


class ControlProtocolError(CopgateError):
    """A control-socket request or reply is malformed or refused: the other end's fault."""


class DaemonUnreachableError(CopgateError):
    """The daemon's control socket cannot be reached: not running, or not ours to use."""


class ControlSocketError(CopgateError):
    """The control socket cannot be set up safely where the daemon was told to put it."""


class ProvenanceError(CopgateError):
    """A release's provenance file (why each entry is listed) is malformed or unreadable."""
