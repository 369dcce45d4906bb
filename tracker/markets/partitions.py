"""Records range-partitioned by month on PostgreSQL, so retention drops whole months.

The records table is partitioned by `timestamp` (migration 0011): one partition per UTC month,
named `markets_record_YYYY_MM`, and a default partition that takes whatever no month holds
(candles backfilled from before the first month, a clock far ahead). `partitions_ensure`
creates the months from now to TRACKER_PARTITIONS_AHEAD months ahead, daily from the
housekeeping, so ingest always finds its month; a month whose records already sit in the
default partition is made from them (moved, then attached) rather than refused.
`partitions_drop` drops the months that end before the retention cutoff: a catalog change
instead of deleting millions of rows; the rows left past the cutoff (the month the cutoff
falls in, the default partition) are deleted row by row as on SQLite (tracker.markets.retention).

SQLite has no partitions: everything here does nothing there.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime

from django.db import connection, transaction

from .models import Record

logger = logging.getLogger(__name__)

PARENT = Record._meta.db_table
DEFAULT = f"{PARENT}_default"
MONTH_NAME = re.compile(rf"^{PARENT}_(\d{{4}})_(\d{{2}})$")


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def month_next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_partition(month: date) -> str:
    return f"{PARENT}_{month.year:04d}_{month.month:02d}"


def _utc(month: date) -> str:
    return datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()


def partitioned() -> bool:
    """Whether the records table is partitioned here (PostgreSQL, migrated)."""
    if not _postgresql():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [PARENT],
        )
        return cursor.fetchone() is not None


def partitions_months() -> list[date]:
    """The months that have a partition, oldest first."""
    if not _postgresql():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [PARENT],
        )
        names = [name for (name,) in cursor.fetchall()]
    months = []
    for name in names:
        found = MONTH_NAME.match(name)
        if found:
            months.append(date(int(found[1]), int(found[2]), 1))
    return sorted(months)


def month_create(month: date) -> None:
    """The partition of `month`, made from the default partition's rows of that month, if any.

    One transaction: the rows move, then the table is attached. Its CHECK constraint, the
    partition's bounds, spares PostgreSQL a scan of it when attaching.
    """
    name, lo, hi = month_partition(month), _utc(month), _utc(month_next(month))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{name}" (LIKE "{PARENT}" INCLUDING DEFAULTS)')
        cursor.execute(
            f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_bounds" '
            f"""CHECK ("timestamp" >= '{lo}' AND "timestamp" < '{hi}')"""
        )
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{DEFAULT}" '  # noqa: S608 (names built here)
            f"""WHERE "timestamp" >= '{lo}' AND "timestamp" < '{hi}' RETURNING *) """
            f'INSERT INTO "{name}" (metric_id, "timestamp", value) '
            "SELECT metric_id, timestamp, value FROM moved"
        )
        moved = cursor.rowcount
        cursor.execute(
            f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
        )
        cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_bounds"')
    logger.info("created the records partition %s (%d records moved into it)", name, moved)


def partitions_ensure(*, now: datetime, ahead: int, since: date | None = None) -> list[str]:
    """Create the months from `since` (default: this month) to `ahead` months after `now`;
    returns the partitions created."""
    if not partitioned():
        return []
    have = set(partitions_months())
    month = since or month_start(now)
    last = month_start(now)
    for _ in range(ahead):
        last = month_next(last)
    created = []
    while month <= last:
        if month not in have:
            month_create(month)
            created.append(month_partition(month))
        month = month_next(month)
    return created


def partitions_drop(*, before: datetime) -> list[str]:
    """Drop the months that end at or before `before`; returns the partitions dropped."""
    if not partitioned():
        return []
    dropped = []
    for month in partitions_months():
        end = month_next(month)
        if datetime(end.year, end.month, 1, tzinfo=UTC) > before:
            break
        name = month_partition(month)
        with transaction.atomic(), connection.cursor() as cursor:
            # Foreign-key checks still pending in this transaction would refuse the drop.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'DROP TABLE "{name}"')
        dropped.append(name)
    if dropped:
        logger.info("dropped the records partitions %s", ", ".join(dropped))
    return dropped
