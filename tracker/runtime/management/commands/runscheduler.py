"""`manage.py runscheduler`: the embedded scheduler alone, polling the exchange."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.common.checks import refuse_unsafe_start
from tracker.common.database import database_describe, database_write_refusal
from tracker.runtime.runner import tracker_run


class Command(BaseCommand):
    help = "Poll the exchange every TRACKER_FETCH_INTERVAL seconds until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.TRACKER_SCHEDULER == "celery":
            raise CommandError(
                "TRACKER_SCHEDULER=celery: the workers and the beat do the polling, not this "
                "command. Run `make server` for the web server, `make worker` and `make beat` "
                "(or all three: `make prod`); unset TRACKER_SCHEDULER for the embedded scheduler."
            )
        refuse_unsafe_start()
        refusal = database_write_refusal()
        if refusal is not None:
            raise CommandError(f"cannot write to {database_describe()}: {refusal}")
        code = asyncio.run(tracker_run())
        if code:
            raise SystemExit(code)
