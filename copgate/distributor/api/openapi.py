"""The OpenAPI 3.1 document of the API (``openapi.json`` beside this module), served as is."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

DOCUMENT = "openapi.json"


@cache
def load() -> dict[str, Any]:
    """The document, parsed once."""
    text = resources.files("copgate.distributor.api").joinpath(DOCUMENT).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@require_safe
def document(request: HttpRequest) -> HttpResponse:
    """``GET /api/openapi.json``: anyone may read what the API is."""
    return JsonResponse(load(), json_dumps_params={"ensure_ascii": False, "indent": 1})
