"""Automation tokens of people (experts, administrators, reporters): the API's only model.

A gateway's token is the curation app's ``Gateway``; this is the token a
person's script sends as ``Authorization: Bearer cgu_...`` in place of a
session. Like a gateway's, it is shown once and stored as a SHA-256
(``tokens.token_hash``); revoking it is clearing ``active``. A token acts
with its owner's roles, as they are at each request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from copgate.distributor.api.tokens import USER_PREFIX, new_token, token_hash


class ApiToken(models.Model):
    """One person's bearer token for the API."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=120, help_text="What the token is for (a script, a host).")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: Any, name: str) -> tuple[ApiToken, str]:
        """A new token for ``user``: the row, and the token itself (shown once, never stored)."""
        token = new_token(USER_PREFIX)
        return cls.objects.create(user=user, name=name, token_hash=token_hash(token)), token
