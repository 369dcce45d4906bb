"""The daily housekeeping job: retention of records and rollups, expired API tokens."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings

from tracker.accounts.services import tokens_prune
from tracker.markets.retention import PruneResult, history_prune

logger = logging.getLogger(__name__)


def housekeeping_run(*, now: datetime) -> PruneResult:
    result = history_prune(
        raw_before=now - settings.TRACKER_RAW_RETENTION,
        rollups_before=now - settings.TRACKER_ROLLUP_RETENTION,
        batch_size=settings.TRACKER_PRUNE_BATCH,
    )
    expired = tokens_prune(now=now)
    if expired:
        logger.info("deleted %d expired API tokens", expired)
    return result
