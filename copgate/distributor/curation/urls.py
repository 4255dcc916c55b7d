"""The curation pages of each role."""

from __future__ import annotations

from django.urls import path

from copgate.distributor.curation import views

app_name = "curation"
urlpatterns = [
    path("", views.home, name="home"),
]
