"""The start page and what every page shares: the role check in front of a view.

Pages are server-rendered and need no JavaScript. Every page that changes
something takes a POST with Django's CSRF token (the middleware refuses one
without); every value shown goes through the template's autoescaping.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from copgate.distributor.curation.permissions import Action, Role, can, roles_of

View = Callable[..., HttpResponse]


def needs(action: Action) -> Callable[[View], View]:
    """Let the view run only for a principal the table allows ``action``.

    A visitor who is not signed in is sent to the login page; a signed-in
    user without the role gets 403.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, action):
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                raise PermissionDenied(f"{action.value} is not allowed")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def signed_in(request: HttpRequest) -> User | None:
    """The signed-in user of ``request``, or None for a visitor."""
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def home(request: HttpRequest) -> HttpResponse:
    """The start page: what the visitor's roles can do."""
    roles = roles_of(request.user)
    return render(
        request,
        "curation/home.html",
        {
            "roles": sorted(role.value for role in roles if role != Role.ANONYMOUS),
        },
    )
