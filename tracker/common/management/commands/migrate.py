"""`manage.py migrate`, Django's, holding a per-database lock so concurrent start-ups are safe."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate

from tracker.common.migration_lock import migration_lock


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with migration_lock(alias=options["database"]):
            super().handle(*args, **options)
