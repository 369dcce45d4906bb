"""The beat's schedules, kept in the database (django-celery-beat) and derived from the tables.

`schedules_sync` writes one periodic task per enabled exchange (`tracker.poll_due` every
`Exchange.interval` seconds, and `tracker.stream_own` every `STREAM_CLAIM_EVERY` seconds for one
in mode=stream), plus the fixed ones (sending due deliveries, housekeeping, this sync itself),
and disables the periodic tasks of exchanges disabled or deleted. The beat's DatabaseScheduler
notices the change and applies it without a restart. It runs after `migrate`, when an exchange
is saved (a post_save signal, so the API and the admin both count) and every
`SYNC_EVERY` seconds, which also catches changes written by other means.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tracker.markets.models import Exchange, ExchangeMode
from tracker.markets.services import exchanges_seed

logger = logging.getLogger(__name__)

PREFIX = "tracker:"
POLL = PREFIX + "poll:"
STREAM = PREFIX + "stream:"
SYNC_EVERY = 30
STREAM_CLAIM_EVERY = 30
HOUSEKEEPING_EVERY = 86_400


@dataclass(frozen=True)
class Wanted:
    name: str
    task: str
    every: int
    args: tuple[int, ...] = ()


def _every(seconds: float) -> int:
    """Beat's intervals are whole seconds: at least one, rounded up."""
    return max(1, math.ceil(seconds - 1e-9))


def schedules_wanted() -> list[Wanted]:
    wanted = [
        Wanted(PREFIX + "schedules", "tracker.schedules_sync", SYNC_EVERY),
        Wanted(
            PREFIX + "deliveries", "tracker.deliveries_send", _every(settings.TRACKER_ALERT_POLL)
        ),
        Wanted(PREFIX + "housekeeping", "tracker.housekeeping", HOUSEKEEPING_EVERY),
    ]
    for exchange_id, name, interval, mode in Exchange.objects.filter(enabled=True).values_list(
        "id", "name", "interval", "mode"
    ):
        wanted.append(Wanted(POLL + name, "tracker.poll_due", _every(interval), (exchange_id,)))
        if mode == ExchangeMode.STREAM:
            wanted.append(
                Wanted(STREAM + name, "tracker.stream_own", STREAM_CLAIM_EVERY, (exchange_id,))
            )
    return wanted


def schedules_prepare() -> int:
    """Create the configured exchanges not stored yet (TRACKER_EXCHANGES), then sync: after
    `migrate` and when the beat starts."""
    exchanges_seed(
        seeds=[(seed.name, seed.base_url, seed.ws_url) for seed in settings.TRACKER_EXCHANGE_SEEDS],
        interval=settings.TRACKER_FETCH_INTERVAL,
    )
    return schedules_sync()


def schedules_sync() -> int:
    """Bring the beat's periodic tasks in line with the tables; returns how many changed."""
    changed = 0
    with transaction.atomic():
        wanted = {w.name: w for w in schedules_wanted()}
        for w in wanted.values():
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=w.every, period=IntervalSchedule.SECONDS
            )
            fields = {
                "task": w.task,
                "interval": schedule,
                "args": json.dumps(list(w.args)),
                "enabled": True,
                # A tick not sent in time is dropped: the next one comes an interval later.
                "expire_seconds": w.every,
            }
            task, created = PeriodicTask.objects.get_or_create(name=w.name, defaults=fields)
            stale = [k for k, v in fields.items() if getattr(task, k) != v]
            if created or stale:
                for key in stale:
                    setattr(task, key, fields[key])
                if stale:
                    task.save()
                changed += 1
                logger.info("beat: %s runs %s every %ds", w.name, w.task, w.every)
        gone = PeriodicTask.objects.filter(name__startswith=PREFIX, enabled=True).exclude(
            name__in=list(wanted)
        )
        for task in gone:
            task.enabled = False
            task.save()  # save(), not update(): the beat notices through PeriodicTasks.changed
            changed += 1
            logger.info("beat: %s disabled", task.name)
    return changed
