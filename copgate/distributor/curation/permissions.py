"""Who may do what: one table the pages and the JSON API both enforce, server-side.

Roles are Django groups (``expert``, ``administrator``); a signed-in user in
neither is a reporter; a superuser holds both roles. A gateway token and an
anonymous visitor are principals too, with one right each: to report.

The table below grants actions to roles. Two rules are about the object,
not the role, and sit beside it:

- nobody decides a proposal they wrote (four eyes: provenance names an
  expert and a different approver), administrators included;
- a report is seen by the user who sent it, and by those who review.

An expert proposes and maintains white lists (proposals of kind allow, the
walled garden included) but never decides or publishes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from copgate.distributor.curation.models import Proposal, ProposalState, Report


class Role(enum.StrEnum):
    """A principal's role. ``expert`` and ``administrator`` are Django group names."""

    ANONYMOUS = "anonymous"
    GATEWAY = "gateway"
    REPORTER = "reporter"
    EXPERT = "expert"
    ADMINISTRATOR = "administrator"


class Action(enum.StrEnum):
    """What a principal may ask the service to do."""

    REPORT = "report"
    OWN_REPORTS = "own_reports"
    REVIEW = "review"
    """See the review queue and every report, with its evidence."""
    PROPOSE = "propose"
    """Propose an addition, removal or recategorisation; maintain white lists."""
    DECIDE = "decide"
    """Approve or reject a proposal."""
    PUBLISH = "publish"
    MANAGE = "manage"
    """Sources, categories, templates, users, roles and gateway tokens."""
    AUDIT = "audit"


ROLE_GROUPS = (Role.EXPERT, Role.ADMINISTRATOR)
"""The roles kept as Django groups (migration 0002 makes them)."""

_EVERYONE = frozenset(Role)
_USERS = frozenset({Role.REPORTER, Role.EXPERT, Role.ADMINISTRATOR})
_CURATORS = frozenset({Role.EXPERT, Role.ADMINISTRATOR})
_ADMINISTRATORS = frozenset({Role.ADMINISTRATOR})

GRANTS: dict[Action, frozenset[Role]] = {
    Action.REPORT: _EVERYONE,
    Action.OWN_REPORTS: _USERS,
    Action.REVIEW: _CURATORS,
    Action.PROPOSE: _CURATORS,
    Action.DECIDE: _ADMINISTRATORS,
    Action.PUBLISH: _ADMINISTRATORS,
    Action.MANAGE: _ADMINISTRATORS,
    Action.AUDIT: _ADMINISTRATORS,
}
"""Action -> the roles that may take it. A principal may when any of its roles may."""


def roles_of(user: Any) -> frozenset[Role]:
    """The roles of a Django user (``AnonymousUser`` included)."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return frozenset({Role.ANONYMOUS})
    if not user.is_active:
        return frozenset({Role.ANONYMOUS})
    if user.is_superuser:
        return frozenset({Role.REPORTER, Role.EXPERT, Role.ADMINISTRATOR})
    groups = set(user.groups.values_list("name", flat=True))
    return frozenset({Role.REPORTER} | {role for role in ROLE_GROUPS if role.value in groups})


def allows(roles: Iterable[Role], action: Action) -> bool:
    """Whether any of ``roles`` may take ``action`` (the table alone)."""
    return any(role in GRANTS[action] for role in roles)


def can(user: Any, action: Action) -> bool:
    """Whether ``user`` may take ``action``."""
    return allows(roles_of(user), action)


def require(user: Any, action: Action) -> None:
    """``PermissionDenied`` (403) unless ``user`` may take ``action``."""
    if not can(user, action):
        raise PermissionDenied(f"{action.value} is not allowed")


def can_decide(user: Any, proposal: Proposal) -> bool:
    """An administrator, deciding an open proposal somebody else wrote."""
    return (
        can(user, Action.DECIDE)
        and proposal.state == ProposalState.OPEN
        and proposal.author_id != user.pk
    )


def require_decide(user: Any, proposal: Proposal) -> None:
    """``PermissionDenied`` unless ``can_decide``; the message says which rule refused."""
    require(user, Action.DECIDE)
    if proposal.author_id == user.pk:
        raise PermissionDenied("nobody decides their own proposal")
    if proposal.state != ProposalState.OPEN:
        raise PermissionDenied(f"the proposal is already {proposal.state}")


def visible_reports(user: Any) -> QuerySet[Report]:
    """The reports ``user`` may see: all for reviewers, their own for users, none else."""
    if can(user, Action.REVIEW):
        return Report.objects.all()
    if can(user, Action.OWN_REPORTS):
        return Report.objects.filter(user=user)
    return Report.objects.none()


def can_see_report(user: Any, report: Report) -> bool:
    """Whether ``user`` may see ``report``."""
    if can(user, Action.REVIEW):
        return True
    return can(user, Action.OWN_REPORTS) and report.user_id == user.pk


def ensure_roles() -> None:
    """Make the role groups if missing (migration 0002 does it; tests flush it away)."""
    for role in ROLE_GROUPS:
        Group.objects.get_or_create(name=role.value)
