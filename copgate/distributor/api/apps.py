"""The API's Django application (label ``copgate_api``): its token model and its URLs."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "copgate.distributor.api"
    label = "copgate_api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"
