"""The distributor's own errors: an operator's mistake, not an untrusted update.

Refusing to sign a release that is not newer, a key file that exists, a tree
without a key set: the command says what and where, and writes nothing. This
module defines classes only.
"""

from __future__ import annotations

from copgate.errors import CopgateError


class DistError(CopgateError):
    """A release cannot be built, signed or published as asked; nothing was written."""
