"""``apitoken USER [--name TEXT]``: issue a person's API token and print it, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from copgate.distributor.api.models import ApiToken
from copgate.distributor.curation import audit


class Command(BaseCommand):
    help = "Issue an API token for a user; it is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="automation", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        row, token = ApiToken.issue(user, options["name"][:120])
        audit.record(
            None, "apitoken.issue", row, after={"user": user.get_username(), "name": row.name}
        )
        self.stdout.write(token)
