"""The daily housekeeping job: records partitions ahead (PostgreSQL), retention of records and
rollups, expired API tokens."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings

from tracker.accounts.services import tokens_prune
from tracker.markets.partitions import partitions_drop, partitions_ensure
from tracker.markets.retention import PruneResult, history_prune

logger = logging.getLogger(__name__)


def housekeeping_run(*, now: datetime) -> PruneResult:
    partitions_ensure(now=now, ahead=settings.TRACKER_PARTITIONS_AHEAD)
    # Whole months past the retention go at once; history_prune deletes the rest row by row.
    dropped = partitions_drop(before=now - settings.TRACKER_RAW_RETENTION)
    result = history_prune(
        raw_before=now - settings.TRACKER_RAW_RETENTION,
        rollups_before=now - settings.TRACKER_ROLLUP_RETENTION,
        batch_size=settings.TRACKER_PRUNE_BATCH,
    )
    if dropped:
        result = PruneResult(
            records=result.records, rollups=result.rollups, partitions=len(dropped)
        )
    expired = tokens_prune(now=now)
    if expired:
        logger.info("deleted %d expired API tokens", expired)
    return result
