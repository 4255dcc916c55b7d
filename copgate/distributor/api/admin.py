"""People's API tokens in the administrators' admin site: listed, revoked, audited; never shown.

A token is issued by ``apitoken`` (``python -m django apitoken USER``), which
prints it once; the admin site only sees its hash, so it cannot add one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from copgate.distributor.api.models import ApiToken
from copgate.distributor.curation.admin import Audited, site


@admin.register(ApiToken, site=site)
class ApiTokenAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "active", "created", "last_used")
    list_filter = ("active",)
    search_fields = ("name", "user__username")
    fields = ("user", "name", "active", "created", "last_used")
    readonly_fields = ("user", "created", "last_used")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False
