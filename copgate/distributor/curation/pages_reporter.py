"""The reporter's pages: send a report (signed in or anonymous), see one's own reports."""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from copgate.distributor.curation import audit, ratelimit
from copgate.distributor.curation.forms import ReportForm
from copgate.distributor.curation.models import Report
from copgate.distributor.curation.permissions import Action, visible_reports
from copgate.distributor.curation.views import needs, signed_in

OWN_REPORTS_SHOWN = 200


def client_address(request: HttpRequest) -> str:
    """The visitor's address: behind the trusted proxy, the one it appended last."""
    if settings.CONFIG.behind_proxy:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return str(forwarded.split(",")[-1].strip())
    return str(request.META.get("REMOTE_ADDR", ""))


def _within_rate(request: HttpRequest) -> bool:
    if request.user.is_authenticated:
        limit, window = ratelimit.USER_REPORTS
        who = f"user:{request.user.pk}"
    else:
        limit, window = ratelimit.ANONYMOUS_REPORTS
        who = f"address:{client_address(request)}"
    return ratelimit.allow("web-report", who, limit, window, time.time())


@needs(Action.REPORT)
def report(request: HttpRequest) -> HttpResponse:
    """The report form; a valid post is stored and acknowledged."""
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not _within_rate(request):
            return render(
                request, "curation/report.html", {"form": form, "limited": True}, status=429
            )
        data = form.cleaned_data
        user = signed_in(request)
        with transaction.atomic():
            row = Report.objects.create(
                kind=data["kind"],
                name=data["name"],
                category=data["category"].slug if data["category"] else "",
                comment=data["comment"],
                created=timezone.now(),
                key=secrets.token_hex(16),
                user=user,
                anonymous=user is None,
            )
            audit.record(request.user, "report.create", row)
        messages.success(request, _("Thank you: your report was received."))
        return redirect("curation:my_reports" if user else "curation:report")
    return render(request, "curation/report.html", {"form": form})


@needs(Action.OWN_REPORTS)
def my_reports(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own reports and where each stands."""
    mine = visible_reports(request.user).filter(user=signed_in(request))[:OWN_REPORTS_SHOWN]
    return render(request, "curation/my_reports.html", {"reports": mine})
