"""`manage.py prune`: the daily housekeeping, now (it also runs inside the scheduler)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tracker.common.clock import utc_now
from tracker.runtime.housekeeping import housekeeping_run


class Command(BaseCommand):
    help = "Delete records and rollups past their retention, and expired API tokens."

    def handle(self, *args: Any, **options: Any) -> None:
        result = housekeeping_run(now=utc_now())
        self.stdout.write(
            f"pruned {result.records} records and {result.rollups} minute rollups"
            + (f", dropped {result.partitions} months of records" if result.partitions else "")
        )
