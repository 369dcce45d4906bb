"""`manage.py runscheduler`: the embedded scheduler alone, polling the exchange."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand

from tracker.common.checks import refuse_unsafe_start
from tracker.ingest.runner import tracker_run


class Command(BaseCommand):
    help = "Poll the exchange every TRACKER_FETCH_INTERVAL seconds until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_unsafe_start()
        code = asyncio.run(tracker_run())
        if code:
            raise SystemExit(code)
