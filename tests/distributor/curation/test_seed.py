"""The starting catalogue and templates come from the lists the gateway package ships."""

from __future__ import annotations

from copgate.distributor.curation.models import Category, Template
from copgate.distributor.curation.seed import seed
from tests.distributor.conftest import Backend


def test_an_empty_service_gets_the_shipped_catalogue_and_templates(db: Backend) -> None:
    categories, templates = seed()
    assert categories == Category.objects.count() > 40
    games = Category.objects.get(slug="games")
    assert (games.names["en"], games.names["ru"]) == ("Games", "Игры")
    assert Category.objects.get(slug="child").default_use == "allow"
    garden = Template.objects.get(slug="primary-walled-garden", language="ru")
    assert garden.categories == ["child", "educational_games"]
    assert garden.description.startswith("Начальная школа")
    assert templates == Template.objects.count()


def test_seeding_never_touches_what_is_there(db: Backend) -> None:
    Category.objects.create(slug="own", names={"en": "Our own"})
    assert seed()[0] == 0
    assert list(Category.objects.values_list("slug", flat=True)) == ["own"]
