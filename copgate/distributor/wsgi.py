"""The WSGI application of the distributor service (``copgate dist run`` serves it)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copgate.distributor.settings")
application = get_wsgi_application()
