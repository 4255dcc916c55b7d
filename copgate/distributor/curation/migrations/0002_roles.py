"""The two roles as Django groups: ``expert`` and ``administrator``.

Plain users are reporters and need no group. The groups carry no model
permissions: ``curation.permissions`` decides by group membership, so that
the pages and the API enforce one table.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

ROLES = ("expert", "administrator")


def create_roles(apps: Any, _schema_editor: Any) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def remove_roles(apps: Any, _schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
