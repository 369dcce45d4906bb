"""`manage.py runtracker`: the API server and the embedded scheduler in one process."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.common.checks import refuse_unsafe_start
from tracker.common.database import database_describe, database_write_refusal
from tracker.runtime.runner import ServeOptions, tracker_run


class Command(BaseCommand):
    help = "Serve the API and poll the exchange on a schedule, in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
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
        code = asyncio.run(tracker_run(serve=ServeOptions(host=host, port=port)))
        if code:
            raise SystemExit(code)
