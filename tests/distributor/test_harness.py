"""The harness itself: each half really runs on its backend, migrated and isolated."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import connection

from copgate.distributor.curation.models import Category
from tests.distributor.conftest import Backend

VENDORS = {"sqlite": "sqlite", "postgresql": "postgresql"}


def test_each_half_runs_on_its_backend(db: Backend) -> None:
    assert connection.vendor == VENDORS[db.name]
    assert connection.settings_dict["NAME"].endswith(("test.sqlite3", "test_copgate"))


def test_migrations_made_the_roles(db: Backend) -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"expert", "administrator"}


def test_a_test_writes(db: Backend) -> None:
    Category.objects.create(slug="harness-probe", names={"en": "Probe"})
    assert Category.objects.filter(slug="harness-probe").exists()


def test_and_the_next_test_does_not_see_it(db: Backend) -> None:
    assert not Category.objects.filter(slug="harness-probe").exists()
