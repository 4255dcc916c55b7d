"""The audit log: every action of every role, who, what, when, before and after.

Callers record inside the transaction that makes the change, so a change and
its log row are committed together or not at all. Rows are never changed.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from copgate.distributor.curation.models import AuditLog, Gateway, snapshot


def record(
    who: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    gateway: Gateway | None = None,
    object_type: str | None = None,
    object_id: str = "",
) -> AuditLog:
    """Add one row. ``after`` defaults to a snapshot of ``obj`` as it is now."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
        if after is None:
            after = snapshot(obj)
    user = who if who is not None and getattr(who, "is_authenticated", False) else None
    return AuditLog.objects.create(
        who=user,
        gateway=gateway,
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        before=before,
        after=after,
    )
