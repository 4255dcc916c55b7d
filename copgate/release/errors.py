"""The errors of a release that cannot be trusted or used.

Each class names what failed, so the updater can log it and keep its last
good release: an untrusted update is not a failed download (that is the
updater's own family) and not a bad config. Messages say what and where
(file, field). This module defines classes only; it never raises anything.
"""

from __future__ import annotations

from copgate.errors import CopgateError


class ReleaseError(CopgateError):
    """A release, key set, signature, artefact or delta is not to be trusted or used."""


class BadSignature(ReleaseError):
    """A signature is malformed, or does not verify against the key it names."""


class UnknownKey(ReleaseError):
    """A signature names a key that is not among the trusted keys."""


class RevokedKey(ReleaseError):
    """A signature was made by a key the key set revokes."""


class Rollback(ReleaseError):
    """A release or key set is older than the one already installed."""


class Expired(ReleaseError):
    """A manifest's expiry time has passed by a plausible clock (a frozen feed)."""


class BadManifest(ReleaseError):
    """A manifest or key set does not parse, or has a field of the wrong type or value."""


class ArtefactMismatch(ReleaseError):
    """An artefact's size or SHA-256 differs from what the manifest says."""


class BadDelta(ReleaseError):
    """A delta is malformed, is for another base file, or builds a file other than its target."""
