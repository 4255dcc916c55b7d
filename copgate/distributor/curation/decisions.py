"""Proposals and their decisions: the only way a curated entry is made or retired.

An expert proposes; an administrator other than the author approves or
rejects (``permissions.require_decide``). Approval changes the curated
entries at once, in the same transaction as the audit row:

========  ==========================================================
add       a new active ``Entry`` (provenance: this proposal)
remove    the name's active curated entries in that list and colour
          retired; publishing also drops it from the upstream sources
recatego  as remove, then add with the new category
========  ==========================================================

So an active curated entry always postdates any removal of its name: the
published set is (sources minus removed names) plus active curated entries, with
no ordering to work out at publishing time. Reports linked to a proposal
are ``proposed`` while it is open and ``closed`` once it is decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from copgate.distributor.curation import audit
from copgate.distributor.curation.models import (
    WALLED_GARDEN,
    Category,
    Entry,
    EntryKind,
    Proposal,
    ProposalAction,
    ProposalState,
    Report,
    ReportState,
    snapshot,
)
from copgate.distributor.curation.names import read_entry_name
from copgate.distributor.curation.permissions import Action, require, require_decide

NEEDS_CATEGORY = {
    (ProposalAction.ADD, EntryKind.BLOCK): True,
    (ProposalAction.ADD, EntryKind.ALLOW): False,
    (ProposalAction.RECATEGORISE, EntryKind.BLOCK): True,
    (ProposalAction.RECATEGORISE, EntryKind.ALLOW): True,
    (ProposalAction.REMOVE, EntryKind.BLOCK): False,
    (ProposalAction.REMOVE, EntryKind.ALLOW): False,
}
"""Whether a proposal of this action and colour must name a category. A white
entry without one opens for every group that allows white entries."""

LIST_KINDS = {WALLED_GARDEN: EntryKind.ALLOW}
"""Lists that hold one colour only: the walled garden is a white list."""


def propose(
    author: Any,
    *,
    action: str,
    name: str,
    category: Category | None = None,
    kind: str = EntryKind.BLOCK,
    list_name: str = "default",
    note: str = "",
    evidence: dict[str, Any] | None = None,
    reports: Iterable[Report] = (),
) -> Proposal:
    """A new open proposal; ``ValidationError`` when it does not make sense."""
    require(author, Action.PROPOSE)
    action = ProposalAction(action)
    kind = EntryKind(kind)
    clean_name = read_entry_name(name)
    required = LIST_KINDS.get(list_name)
    if required is not None and kind != required:
        raise ValidationError(
            _("the list %(list)s only holds %(kind)s entries"),
            params={"list": list_name, "kind": required.label},
        )
    if NEEDS_CATEGORY[action, kind] and category is None:
        raise ValidationError(_("this proposal needs a category"), code="category")
    linked = list(reports)
    with transaction.atomic():
        proposal = Proposal.objects.create(
            action=action,
            name=clean_name,
            category=category,
            kind=kind,
            list=list_name,
            note=note,
            evidence=evidence or {},
            author=author,
        )
        if linked:
            proposal.reports.set(linked)
            Report.objects.filter(pk__in=[r.pk for r in linked]).update(state=ReportState.PROPOSED)
        audit.record(author, "proposal.create", proposal)
    return proposal


def approve(who: Any, proposal: Proposal, note: str = "") -> Proposal:
    """Approve and apply ``proposal`` (see the module docstring)."""
    return _decide(who, proposal, ProposalState.APPROVED, note)


def reject(who: Any, proposal: Proposal, note: str = "") -> Proposal:
    """Reject ``proposal``; nothing else changes."""
    return _decide(who, proposal, ProposalState.REJECTED, note)


def _decide(who: Any, proposal: Proposal, state: ProposalState, note: str) -> Proposal:
    with transaction.atomic():
        # Lock the row: two administrators deciding at once, one wins.
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        require_decide(who, locked)
        before = snapshot(locked)
        locked.state = state
        locked.decided_by = who
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save()
        if state == ProposalState.APPROVED:
            _apply(locked)
        locked.reports.update(state=ReportState.CLOSED)
        audit.record(who, f"proposal.{state.value}", locked, before)
    return locked


def _apply(proposal: Proposal) -> None:
    if proposal.action in (ProposalAction.REMOVE, ProposalAction.RECATEGORISE):
        retired = Entry.objects.filter(
            name=proposal.name, list=proposal.list, kind=proposal.kind, active=True
        )
        retired.update(active=False)
    if proposal.action in (ProposalAction.ADD, ProposalAction.RECATEGORISE):
        Entry.objects.filter(
            name=proposal.name, list=proposal.list, kind=proposal.kind, active=True
        ).update(active=False)
        Entry.objects.create(
            name=proposal.name,
            category=proposal.category,
            kind=proposal.kind,
            list=proposal.list,
            proposal=proposal,
        )
