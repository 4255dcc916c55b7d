"""The server-rendered pages of each role."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    """The start page: what the signed-in user's roles can do."""
    return render(request, "curation/home.html", {})
