"""The context every first import of ``cryptography`` runs in; the process may set it.

``cryptography`` is imported where it is first needed, never at start:
``copgate.wire.quic_keys`` at the first QUIC Initial, ``copgate.release.signify``
at the first signature check (the updater's thread, in a daemon with
``[update]``). Both import it inside ``importing()``, which does nothing
unless the process set a wrapper: ``copgate run`` sets
``copgate.edges.residency.released_after``, which gives back the pages the
binding's loading touched and its use does not (issue 10). Once the modules
are loaded, a later ``importing()`` finds nothing new to give back.

Holds one hook; imports nothing, reads and writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

Wrapper = Callable[[], AbstractContextManager[object]]

_WRAPPER: list[Wrapper] = [contextlib.nullcontext]
"""The wrapper in force: a list of one, so that setting it needs no ``global``."""


def wrap(wrapper: Wrapper) -> None:
    """Run every later ``importing()`` block inside ``wrapper()`` (for the whole process)."""
    _WRAPPER[0] = wrapper


def importing() -> AbstractContextManager[object]:
    """The context to import ``cryptography`` in: the process's wrapper, else nothing."""
    return _WRAPPER[0]()
