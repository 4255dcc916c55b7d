"""The curation pages of each role."""

from __future__ import annotations

from django.urls import path

from copgate.distributor.curation import pages_admin, pages_expert, pages_reporter, views

app_name = "curation"
urlpatterns = [
    path("", views.home, name="home"),
    path("report/", pages_reporter.report, name="report"),
    path("reports/mine/", pages_reporter.my_reports, name="my_reports"),
    path("review/", pages_expert.queue, name="queue"),
    path("review/name/", pages_expert.review_name, name="review_name"),
    path("propose/", pages_expert.propose, name="propose"),
    path("proposals/", pages_expert.proposals, name="proposals"),
    path("proposals/<int:pk>/", pages_expert.proposal, name="proposal"),
    path("whitelists/", pages_expert.whitelists, name="whitelists"),
    path("whitelists/<int:pk>/remove/", pages_expert.whitelist_remove, name="whitelist_remove"),
    path("publish/", pages_admin.publish_page, name="publish"),
    path("publish/now/", pages_admin.publish_now, name="publish_now"),
    path("publish/schedule/", pages_admin.schedule, name="schedule"),
    path("sources/fetch/", pages_admin.fetch_sources, name="fetch_sources"),
    path("audit/", pages_admin.audit_log, name="audit"),
    path("gateways/", pages_admin.gateway_list, name="gateways"),
    path(
        "gateways/<int:pk>/<str:what>/",
        pages_admin.gateway_action,
        name="gateway_action",
    ),
]
