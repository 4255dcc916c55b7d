"""The administrator's pages: publishing, the audit log, gateway tokens.

Proposals are decided on the proposal page (``pages_expert.proposal``);
sources, categories, templates, users and roles are kept in the admin site
(``admin``), which records every change in the audit log too.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from copgate.distributor.curation import audit, fetching, gateways, publishing
from copgate.distributor.curation.forms import GatewayForm, ScheduleForm
from copgate.distributor.curation.models import (
    AuditLog,
    Gateway,
    PublishRequest,
    Release,
    Source,
)
from copgate.distributor.curation.permissions import Action
from copgate.distributor.curation.views import needs, signed_in
from copgate.errors import CopgateError

AUDIT_PAGE = 50
GATEWAY_ACTIONS = frozenset({"revoke", "reissue"})
RELEASES_SHOWN = 30


@needs(Action.PUBLISH)
def publish_page(request: HttpRequest) -> HttpResponse:
    """Releases, sources, scheduled publications; the build-now and schedule forms."""
    published = publishing.sync_published()
    keyset_ok = publishing.tree().keyset_path.exists()
    return render(
        request,
        "curation/publish.html",
        {
            "releases": Release.objects.select_related("published_by")[:RELEASES_SHOWN],
            "published": published,
            "keyset_ok": keyset_ok,
            "tree": publishing.tree().root,
            "signing_here": settings.COPGATE_SIGNING_KEY is not None,
            "sources": Source.objects.all(),
            "scheduled": PublishRequest.objects.filter(done__isnull=True),
            "recent": PublishRequest.objects.filter(done__isnull=False).order_by("-done")[:10],
            "schedule_form": ScheduleForm(),
        },
    )


@needs(Action.PUBLISH)
@require_POST
def publish_now(request: HttpRequest) -> HttpResponse:
    """Build the next release now (and publish it when the key is on this host)."""
    try:
        built = publishing.build_and_publish(request.user, timezone.now())
    except CopgateError as exc:
        messages.error(request, _("Nothing was published: %(error)s") % {"error": exc})
        return redirect("curation:publish")
    if built.signed:
        text = _("Release %(n)d published: %(names)d names.")
    else:
        text = _(
            "Release %(n)d built (%(names)d names), unsigned: sign it with "
            "'copgate dist sign --publish' where the key is."
        )
    messages.success(request, text % {"n": built.release.number, "names": built.names})
    return redirect("curation:publish")


@needs(Action.PUBLISH)
@require_POST
def schedule(request: HttpRequest) -> HttpResponse:
    """Ask for a publication at a set time."""
    form = ScheduleForm(request.POST)
    if form.is_valid():
        row = PublishRequest.objects.create(
            due=form.cleaned_data["due"], requested_by=signed_in(request)
        )
        audit.record(request.user, "release.schedule", row)
        messages.success(request, _("Publication scheduled."))
    else:
        messages.error(request, _("Give the time as YYYY-MM-DD HH:MM (UTC)."))
    return redirect("curation:publish")


@needs(Action.MANAGE)
@require_POST
def fetch_sources(request: HttpRequest) -> HttpResponse:
    """Fetch every source whose schedule is due, now."""
    for result in fetching.fetch_due(request.user, timezone.now()):
        if isinstance(result, fetching.FetchError):
            messages.error(request, str(result))
        else:
            messages.success(
                request,
                _("%(name)s fetched: %(size)d bytes")
                % {"name": result.source.name, "size": result.size},
            )
    return redirect("curation:publish")


@needs(Action.AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Every action, newest first, filtered by action or object type."""
    rows = AuditLog.objects.select_related("who", "gateway")
    action = request.GET.get("action", "")
    kind = request.GET.get("type", "")
    if action:
        rows = rows.filter(action=action)
    if kind:
        rows = rows.filter(object_type=kind)
    page = Paginator(rows, AUDIT_PAGE).get_page(request.GET.get("page"))
    return render(request, "curation/audit.html", {"page": page, "action": action, "type": kind})


@needs(Action.MANAGE)
def gateway_list(request: HttpRequest) -> HttpResponse:
    """The gateways; issuing one shows its token this once."""
    form = GatewayForm(request.POST or None)
    token = None
    issued = None
    if request.method == "POST" and form.is_valid():
        issued, token = gateways.issue_token(
            request.user, form.cleaned_data["name"], form.cleaned_data["owner"]
        )
        form = GatewayForm()
    response = render(
        request,
        "curation/gateways.html",
        {
            "gateways": Gateway.objects.select_related("owner"),
            "form": form,
            "token": token,
            "issued": issued,
        },
    )
    if token is not None:
        response["Cache-Control"] = "no-store"  # the token must not stay in any cache
    return response


@needs(Action.MANAGE)
@require_POST
def gateway_action(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    """Revoke a gateway's token, or issue it a new one (shown this once)."""
    gateway = get_object_or_404(Gateway, pk=pk)
    if what not in GATEWAY_ACTIONS:
        raise Http404(what)
    if what == "revoke":
        gateways.revoke(request.user, gateway)
        messages.success(request, _("The token of %(name)s is revoked.") % {"name": gateway.name})
        return redirect("curation:gateways")
    token = gateways.reissue_token(request.user, gateway)
    response = render(
        request,
        "curation/gateways.html",
        {
            "gateways": Gateway.objects.select_related("owner"),
            "form": GatewayForm(),
            "token": token,
            "issued": gateway,
        },
    )
    response["Cache-Control"] = "no-store"
    return response
