"""The API's URLs, under ``/api/`` (the project's ``urls.py`` includes them there)."""

from __future__ import annotations

from django.urls import path, re_path

from copgate.distributor.api import openapi, review, views

app_name = "api"
urlpatterns = [
    path("openapi.json", openapi.document, name="openapi"),
    path("v1/reports", views.reports, name="reports"),
    path("v1/reports/<int:pk>", views.report, name="report"),
    path("v1/queue", review.queue, name="queue"),
    path("v1/proposals", review.proposals, name="proposals"),
    path("v1/proposals/<int:pk>", review.proposal, name="proposal"),
    path("v1/proposals/<int:pk>/approve", review.approve, name="approve"),
    path("v1/proposals/<int:pk>/reject", review.reject, name="reject"),
    path("v1/releases", review.releases, name="releases"),
    # Anything else under /api/ is a JSON 404, not the site's HTML page: a
    # gateway with a wrong reports_url logs a reason it can read.
    re_path(r"^", views.not_found, name="not_found"),
]
