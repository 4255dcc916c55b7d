"""The Django app configuration of ``curation``."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CurationConfig(AppConfig):
    """The curation app."""

    name = "copgate.distributor.curation"
    label = "curation"
    verbose_name = _("Curation")
    default_auto_field = "django.db.models.BigAutoField"
