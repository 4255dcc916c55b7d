"""The updater's errors: a download that failed is not a release that is untrusted.

``copgate.release.errors.ReleaseError`` says a release was refused (bad
signature, rollback, expired, mismatched artefact). The classes here say
the release could not be had at all (``DownloadError``: the server's or
the network's fault) or could not be kept (``StoreError``: our storage is
full or read-only). This module defines classes only.
"""

from __future__ import annotations

from copgate.errors import CopgateError


class UpdateError(CopgateError):
    """Base of the updater's own errors."""


class DownloadError(UpdateError):
    """A file could not be fetched whole: the distributor's or the network's fault."""


class Unreachable(DownloadError):
    """The distributor did not answer (refused, no route, DNS, connect timeout)."""


class TooLarge(DownloadError):
    """The server sent more bytes than the manifest (or a fixed cap) allows."""


class TooSlow(DownloadError):
    """The server stalled past a read timeout or the overall deadline."""


class NotAFile(DownloadError):
    """The server answered with an error status, HTML or garbage instead of the file."""


class StoreError(UpdateError):
    """A release could not be written: disk full, read-only storage, a missing directory."""


class Busy(UpdateError):
    """Another updater (the daemon's poller or ``copgate update``) holds the lock."""
