"""The admin site: sources, categories, templates, users and roles, for administrators.

Django's admin, with two changes. Who may use it is the permission table's
``manage`` (the ``administrator`` role), not Django's per-model permissions,
so the pages and the admin agree. And every save and delete goes into the
audit log with the row before and after, beside Django's own history.
Gateways have a page of their own (the token is shown once there); here
they can only be looked at and revoked.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from copgate.distributor.curation import audit, fetching
from copgate.distributor.curation.models import (
    AuditLog,
    Category,
    Entry,
    Gateway,
    Proposal,
    Release,
    Report,
    Source,
    Template,
    snapshot,
)
from copgate.distributor.curation.permissions import Action, can


class CurationAdminSite(admin.AdminSite):
    """The admin site, open to the ``administrator`` role."""

    site_header = _("copgate lists: administration")
    site_title = _("copgate lists")

    def has_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Action.MANAGE)


site = CurationAdminSite(name="admin")


class Audited:
    """Mixin: administrators may do everything here, and every change is audited."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Action.MANAGE)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.MANAGE)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return can(request.user, Action.MANAGE)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.MANAGE)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.MANAGE)

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        with transaction.atomic():
            before = None
            if change and obj.pk is not None:
                old = type(obj)._default_manager.filter(pk=obj.pk).first()
                before = snapshot(old) if old is not None else None
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            name = obj._meta.model_name
            audit.record(request.user, f"{name}.{'change' if change else 'add'}", obj, before)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        obj = form.instance
        if isinstance(obj, User):  # roles are groups: say who holds which, after the change
            roles = sorted(obj.groups.values_list("name", flat=True))
            audit.record(
                request.user, "user.roles", obj, after={"username": obj.username, "roles": roles}
            )

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        with transaction.atomic():
            before = snapshot(obj)
            name, pk = obj._meta.model_name, str(obj.pk)
            super().delete_model(request, obj)  # type: ignore[misc]
            audit.record(
                request.user, f"{name}.delete", None, before, object_type=name, object_id=pk
            )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Category, site=site)
class CategoryAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["slug", "default_use", "names"]
    search_fields = ["slug"]


@admin.register(Source, site=site)
class SourceAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "format", "url", "schedule_hours", "last_fetched", "active"]
    readonly_fields = ["last_fetched", "fetched_path"]
    actions = ["fetch_now"]
    # A URL typed without a scheme is an HTTPS one (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description=_("Fetch the selected sources now"))
    def fetch_now(self, request: HttpRequest, queryset: Any) -> None:
        for source in queryset.exclude(url=""):
            try:
                done = fetching.fetch(request.user, source, timezone.now())
            except fetching.FetchError as exc:
                self.message_user(request, str(exc), level="error")
            else:
                self.message_user(request, f"{source.name}: {done.size} bytes")


@admin.register(Template, site=site)
class TemplateAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["slug", "country", "language"]
    list_filter = ["country", "language"]


@admin.register(Entry, site=site)
class EntryAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    """Curated entries come from approved proposals: read here, never typed in."""

    list_display = ["name", "kind", "list", "category", "proposal", "active"]
    list_filter = ["kind", "list", "active"]
    search_fields = ["name"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report, site=site)
class ReportAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "state", "gateway", "user", "anonymous", "received"]
    list_filter = ["state", "kind", "anonymous"]
    search_fields = ["name"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False


@admin.register(Proposal, site=site)
class ProposalAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    """Read only: proposals are decided on their page, where the four-eyes rule holds."""

    list_display = ["pk", "action", "name", "state", "author", "decided_by"]
    list_filter = ["state", "action"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Gateway, site=site)
class GatewayAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "owner", "active", "created", "last_seen"]
    fields = ["name", "owner", "active"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # issued on the gateways page, which shows the token once


@admin.register(Release, site=site)
class ReleaseAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "created", "names", "signed", "published", "published_by"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog, site=site)
class AuditLogAdmin(Audited, admin.ModelAdmin):  # type: ignore[type-arg]
    """The log is only added to."""

    list_display = ["when", "who", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User, site=site)
class RoleUserAdmin(Audited, UserAdmin):  # type: ignore[type-arg]
    """Users; their roles are the groups ``expert`` and ``administrator``."""


@admin.register(Group, site=site)
class RoleGroupAdmin(Audited, GroupAdmin):
    pass
