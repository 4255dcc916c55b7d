"""Template context for every page: what the visitor's roles allow (for the menus).

Menus only: every view checks again with ``permissions`` before it acts.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from copgate.distributor.curation.permissions import Action, allows, roles_of


def roles(request: HttpRequest) -> dict[str, Any]:
    """``can.<action>`` for the templates."""
    held = roles_of(getattr(request, "user", None))
    return {"can": {action.value: allows(held, action) for action in Action}}
