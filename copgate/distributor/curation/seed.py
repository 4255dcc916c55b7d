"""The starting catalogue and templates: what the gateway package itself ships.

A new service starts with the categories of ``lists/categories/global_usage``
(names and descriptions in English, French and Russian) and one template row
per language of each ``lists/templates/*.toml`` (for every country: an
administrator adds country-specific ones). ``copgate dist migrate`` seeds an
empty database only; nothing an administrator made is ever overwritten.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from copgate.config.templates import TemplateStore, default_templates_dir
from copgate.distributor.curation import audit
from copgate.distributor.curation.models import Category, EntryKind, Template
from copgate.lists.model import DefaultUse
from copgate.lists.ut1 import read_global_usage

TEMPLATE_CATEGORY_OPTIONS = ("block_categories", "allow_categories")


def catalogue_file() -> Path:
    """``global_usage`` beside the templates (a checkout's lists/, a wheel's copgate/data)."""
    return default_templates_dir().parent / "categories" / "global_usage"


def seed(catalogue: Path | None = None, templates: Path | None = None) -> tuple[int, int]:
    """Seed an empty catalogue and an empty template table; (categories, templates) made."""
    made_categories = made_templates = 0
    with transaction.atomic():
        if not Category.objects.exists():
            made_categories = _seed_categories(catalogue or catalogue_file())
        if not Template.objects.exists():
            made_templates = _seed_templates(templates or default_templates_dir())
        if made_categories or made_templates:
            audit.record(
                None,
                "seed",
                object_type="catalogue",
                after={"categories": made_categories, "templates": made_templates},
            )
    return made_categories, made_templates


def _seed_categories(path: Path) -> int:
    if not path.is_file():
        return 0
    records = read_global_usage(path.read_text(encoding="utf-8"), str(path))
    Category.objects.bulk_create(
        Category(
            slug=record.name,
            names=dict(record.titles),
            descriptions=dict(record.descriptions),
            default_use=EntryKind.ALLOW if record.default_use == DefaultUse.WHITE else "block",
        )
        for record in records.values()
    )
    return len(records)


def _seed_templates(directory: Path) -> int:
    store = TemplateStore(directory)
    rows = []
    for name in store.names():
        template = store.get(name)
        categories: list[str] = []
        for option_name in TEMPLATE_CATEGORY_OPTIONS:
            option = template.group.option(option_name)
            if option is not None:
                categories.extend(str(item.value) for item in option.items)
        for language in sorted(set(template.titles) | set(template.descriptions)):
            title = template.titles.get(language, name)
            description = template.descriptions.get(language, "")
            rows.append(
                Template(
                    slug=name,
                    country="",
                    language=language,
                    categories=categories,
                    description=f"{title}\n\n{description}".strip(),
                )
            )
    Template.objects.bulk_create(rows)
    return len(rows)
