"""The expert's pages: the review queue, a name's evidence, proposals, the white lists."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from copgate.distributor.curation import decisions
from copgate.distributor.curation.evidence import evidence_for, review_queue
from copgate.distributor.curation.forms import DecisionForm, ProposalForm
from copgate.distributor.curation.models import (
    DEFAULT_LIST,
    WALLED_GARDEN,
    Entry,
    EntryKind,
    Proposal,
    ProposalAction,
    ProposalState,
    ReportKind,
)
from copgate.distributor.curation.names import read_entry_name
from copgate.distributor.curation.permissions import Action, can_decide
from copgate.distributor.curation.views import needs

PROPOSALS_SHOWN = 300


@needs(Action.REVIEW)
def queue(request: HttpRequest) -> HttpResponse:
    """Open reports grouped by name, most reported first."""
    return render(request, "curation/queue.html", {"rows": review_queue()})


@needs(Action.REVIEW)
def review_name(request: HttpRequest) -> HttpResponse:
    """One name: its reports and evidence, and the form to propose about it."""
    name = request.GET.get("name") or request.POST.get("name_reported", "")
    evidence = evidence_for(name)
    form = ProposalForm(request.POST or None, initial=_initial(name, evidence.reports))
    if request.method == "POST" and form.is_valid():
        proposal = _propose(request, form, evidence.as_json(), evidence.reports)
        if proposal is not None:
            return redirect("curation:proposal", proposal.pk)
    return render(
        request, "curation/review_name.html", {"name": name, "ev": evidence, "form": form}
    )


def _initial(name: str, reports: list[Any]) -> dict[str, Any]:
    kinds = Counter(r.kind for r in reports)
    mostly_mistakes = kinds[ReportKind.MISTAKE] > kinds[ReportKind.SITE]
    try:
        clean = read_entry_name(name)
    except ValidationError:
        clean = name
    categories = Counter(r.category for r in reports if r.category)
    initial: dict[str, Any] = {
        "name": clean,
        "action": ProposalAction.REMOVE if mostly_mistakes else ProposalAction.ADD,
    }
    if categories:
        from copgate.distributor.curation.models import Category

        slug = categories.most_common(1)[0][0]
        initial["category"] = Category.objects.filter(slug=slug).first()
    return initial


def _propose(
    request: HttpRequest,
    form: ProposalForm,
    evidence: dict[str, Any],
    reports: list[Any],
) -> Proposal | None:
    data = form.cleaned_data
    try:
        proposal = decisions.propose(
            request.user,
            action=data["action"],
            name=data["name"],
            category=data["category"],
            kind=data["kind"],
            list_name=data["list"],
            note=data["note"],
            evidence=evidence,
            reports=reports,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return None
    messages.success(request, _("Proposal #%(id)d sent for approval.") % {"id": proposal.pk})
    return proposal


@needs(Action.PROPOSE)
def propose(request: HttpRequest) -> HttpResponse:
    """A proposal of the expert's own, with no report behind it."""
    form = ProposalForm(request.POST or None, initial=request.GET.dict() or None)
    if request.method == "POST" and form.is_valid():
        evidence = evidence_for(form.cleaned_data["name"])
        proposal = _propose(request, form, evidence.as_json(), [])
        if proposal is not None:
            return redirect("curation:proposal", proposal.pk)
    return render(request, "curation/propose.html", {"form": form})


@needs(Action.REVIEW)
def proposals(request: HttpRequest) -> HttpResponse:
    """Proposals in one state (open by default), newest first."""
    state = request.GET.get("state", ProposalState.OPEN)
    if state not in ProposalState.values:
        state = ProposalState.OPEN
    rows = Proposal.objects.filter(state=state).select_related("author", "category", "decided_by")[
        :PROPOSALS_SHOWN
    ]
    return render(
        request,
        "curation/proposals.html",
        {"rows": rows, "state": state, "states": ProposalState.choices},
    )


@needs(Action.REVIEW)
def proposal(request: HttpRequest, pk: int) -> HttpResponse:
    """One proposal, its evidence and reports; the decision form for an administrator."""
    row = get_object_or_404(
        Proposal.objects.select_related("author", "category", "decided_by"), pk=pk
    )
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        decide = (
            decisions.approve if form.cleaned_data["decision"] == "approve" else decisions.reject
        )
        decide(request.user, row, form.cleaned_data["note"])  # checks who may, again
        messages.success(request, _("Proposal #%(id)d decided.") % {"id": row.pk})
        return redirect("curation:proposal", row.pk)
    return render(
        request,
        "curation/proposal.html",
        {
            "p": row,
            "form": form,
            "may_decide": can_decide(request.user, row),
            "own": row.author_id == request.user.pk,
            "reports": row.reports.all()[:100],
            "entries": row.entries.all(),
        },
    )


@needs(Action.PROPOSE)
def whitelists(request: HttpRequest) -> HttpResponse:
    """The white lists' active entries (the walled garden first) and proposals to change them."""
    entries = Entry.objects.filter(kind=EntryKind.ALLOW, active=True).select_related("category")
    lists: dict[str, list[Entry]] = {WALLED_GARDEN: [], DEFAULT_LIST: []}
    for entry in entries.order_by("list", "name"):
        lists.setdefault(entry.list, []).append(entry)
    form = ProposalForm(initial={"kind": EntryKind.ALLOW, "list": WALLED_GARDEN, "action": "add"})
    pending = Proposal.objects.filter(state=ProposalState.OPEN, kind=EntryKind.ALLOW)
    return render(
        request,
        "curation/whitelists.html",
        {"lists": lists, "form": form, "pending": pending},
    )


@needs(Action.PROPOSE)
@require_POST
def whitelist_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Propose the removal of one white-list entry."""
    entry = get_object_or_404(Entry, pk=pk, kind=EntryKind.ALLOW, active=True)
    proposal = decisions.propose(
        request.user,
        action=ProposalAction.REMOVE,
        name=entry.name,
        kind=EntryKind.ALLOW,
        list_name=entry.list,
        note=request.POST.get("note", "")[:2000],
        evidence=evidence_for(entry.name).as_json(),
    )
    messages.success(request, _("Proposal #%(id)d sent for approval.") % {"id": proposal.pk})
    return redirect("curation:whitelists")
