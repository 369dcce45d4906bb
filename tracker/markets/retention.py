"""Forgetting old data: raw records after TRACKER_RAW_RETENTION, rollups after their own.

Deletes run per metric along the primary key, a batch per transaction, so the prune never
holds the write lock for long and ingestion carries on between batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction

from .models import Metric, MinuteRollup, Record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneResult:
    records: int  # deleted row by row
    rollups: int
    partitions: int = 0  # months of records dropped whole (PostgreSQL)


def _prune(model: type[models.Model], field: str, *, before: datetime, batch_size: int) -> int:
    deleted = 0
    for metric_id in Metric.objects.values_list("id", flat=True).order_by("id"):
        while True:
            with transaction.atomic():
                keys = list(
                    model._default_manager.filter(metric_id=metric_id, **{f"{field}__lt": before})
                    .order_by(field)
                    .values_list(field, flat=True)[:batch_size]
                )
                if not keys:
                    break
                model._default_manager.filter(
                    metric_id=metric_id, **{f"{field}__in": keys}
                ).delete()
            deleted += len(keys)
            if len(keys) < batch_size:
                break
    return deleted


def history_prune(
    *, raw_before: datetime, rollups_before: datetime, batch_size: int = 5000
) -> PruneResult:
    """Delete records older than `raw_before` and rollups older than `rollups_before`."""
    result = PruneResult(
        records=_prune(Record, "timestamp", before=raw_before, batch_size=batch_size),
        rollups=_prune(MinuteRollup, "minute", before=rollups_before, batch_size=batch_size),
    )
    if result.records or result.rollups:
        logger.info("pruned %d records and %d minute rollups", result.records, result.rollups)
    return result
