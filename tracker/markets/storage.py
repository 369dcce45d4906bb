"""SQL of the write path, per database: insert new records, merge rollups, touch the metrics.

Kept apart from services.py because the two databases need different statements for the same
job. PostgreSQL takes the rows by binary COPY and does the rest in one statement
(`records_store`); SQLite, which serialises writers (`BEGIN IMMEDIATE`), is asked which rows
already exist first, and the rollups are computed in Python (`records_insert_new`,
`metrics_touch`, `rollups_merge`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from .models import Metric, MinuteRollup, Pair, Record

Row = tuple[int, datetime, float]


@dataclass(frozen=True, slots=True)
class Touched:
    """What the write path needs to know of a metric it stored records of."""

    reference: float
    exchange_id: int


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@dataclass(frozen=True, slots=True)
class Stored:
    """What one write stored for the metrics of one exchange."""

    exchange_id: int
    metric_ids: tuple[int, ...]
    since: datetime
    until: datetime
    count: int


# PostgreSQL: rows come in through binary COPY into a temporary table of the session, and one
# statement moves the new ones into the records, the metrics and the rollups. The table is
# created on a session's first ingest and reused: it is emptied at every commit (a pooled
# connection hands it on empty to its next borrower), a rollback takes its creation away
# (hence IF NOT EXISTS every time), and the DELETE empties what an earlier ingest of the same
# transaction left in it. A table per ingest (ON COMMIT DROP) was slower for one tick's
# rows and writes the catalog on every ingest.
_STAGING = "markets_record_staging"
_STAGING_PREPARE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS markets_record_staging "
    "(metric_id bigint, timestamp timestamptz, value float8) ON COMMIT DELETE ROWS; "
    "DELETE FROM markets_record_staging"
)


def records_store(*, rows: Sequence[Row], now: datetime) -> list[Stored]:
    """PostgreSQL: store the rows not stored yet and fold them into metrics and rollups.

    The rows go in by COPY; then one statement inserts those whose (metric, timestamp) is new
    (the first of repeats within the batch), bumps the version and change time of their
    metrics (a reference not set yet is fixed from the metric's first new value), merges
    their per-minute statistics into the rollups and reports what it stored per exchange,
    ordered by exchange. Nothing of the new rows travels back to Python. Runs in the caller's
    transaction (or one of its own). Raises Metric.DoesNotExist naming ids that are not metrics.
    """
    record, metric, pair = _table(Record), _table(Metric), _table(Pair)
    sql = f"""
        WITH new AS (
            INSERT INTO {record} (metric_id, timestamp, value)
            SELECT metric_id, timestamp, value FROM {_STAGING}
            ON CONFLICT (metric_id, timestamp) DO NOTHING
            RETURNING metric_id, timestamp, value
        ), firsts AS (
            -- fed in COPY order, so element 1 is the metric's first new value
            SELECT metric_id, (array_agg(value))[1] AS first FROM new GROUP BY metric_id
        ), touched AS (
            UPDATE {metric} AS m SET version = m.version + 1,
                changed_at = GREATEST(m.changed_at, %s),
                reference = COALESCE(m.reference, f.first)
            FROM firsts f WHERE m.id = f.metric_id
            RETURNING m.id, m.reference,
                (SELECT p.exchange_id FROM {pair} p WHERE p.id = m.pair_id) AS exchange_id
        ), groups AS (
            SELECT n.metric_id, date_trunc('minute', n.timestamp, 'UTC') AS minute,
                count(*) AS count, avg(n.value - t.reference) AS offset_mean,
                var_pop(n.value - t.reference) * count(*) AS m2,
                min(n.value) AS low, max(n.value) AS high,
                (array_agg(n.value ORDER BY n.timestamp))[1] AS first,
                min(n.timestamp) AS first_at,
                (array_agg(n.value ORDER BY n.timestamp DESC))[1] AS last,
                max(n.timestamp) AS last_at,
                t.exchange_id
            FROM new n LEFT JOIN touched t ON t.id = n.metric_id
            GROUP BY n.metric_id, minute, t.exchange_id
        ), merged AS (
            INSERT INTO {_table(MinuteRollup)} ({_ROLLUP_COLUMNS})
            SELECT {_ROLLUP_COLUMNS} FROM groups WHERE exchange_id IS NOT NULL
            {_rollup_conflict()}
        )
        SELECT exchange_id, array_agg(DISTINCT metric_id ORDER BY metric_id),
            min(first_at), max(last_at), sum(count)::bigint
        FROM groups GROUP BY exchange_id ORDER BY exchange_id
    """  # noqa: S608
    copy_sql = f"COPY {_STAGING} (metric_id, timestamp, value) FROM STDIN (FORMAT BINARY)"
    # ON COMMIT DELETE ROWS would empty the table between the COPY and the INSERT outside a
    # transaction.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_STAGING_PREPARE)
        with cursor.copy(copy_sql) as copy:
            copy.set_types(["int8", "timestamptz", "float8"])
            for row in rows:
                copy.write_row(row)
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now)])
        stored = [
            Stored(
                exchange_id=exchange_id,
                metric_ids=tuple(metric_ids),
                since=since,
                until=until,
                count=count,
            )
            for exchange_id, metric_ids, since, until, count in cursor.fetchall()
        ]
    missing = [m for s in stored if s.exchange_id is None for m in s.metric_ids]
    if missing:
        raise Metric.DoesNotExist(f"no metric with id {', '.join(map(str, missing))}")
    return stored


def records_insert_new(rows: Sequence[Row]) -> list[Row]:
    """Insert rows whose (metric, timestamp) is not stored yet; return exactly those rows.

    The SQLite half of the write path: `records_store` does the whole of it on PostgreSQL.
    """
    adapt = connection.ops.adapt_datetimefield_value
    # A tick's rows share one timestamp: adapt and normalise each distinct one once.
    adapted: dict[datetime, Any] = {stamp: adapt(stamp) for stamp in {row[1] for row in rows}}
    in_utc = {stamp: stamp.astimezone(UTC) for stamp in adapted}
    metric_ids = sorted({row[0] for row in rows})
    # The ids go in as one JSON parameter: SQLite limits a statement to 32,766 parameters,
    # and 10,000 pairs of five metrics are 50,000 ids.
    lookup = (
        f"SELECT metric_id, timestamp FROM {_table(Record)} "  # noqa: S608
        "WHERE metric_id IN (SELECT value FROM json_each(%s)) "
        "AND timestamp >= %s AND timestamp <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            lookup, [json.dumps(metric_ids), min(adapted.values()), max(adapted.values())]
        )
        # The driver hands stored timestamps back as naive UTC datetimes.
        seen = {(metric_id, stamp.replace(tzinfo=UTC)) for metric_id, stamp in cursor.fetchall()}
        keys = [(metric_id, in_utc[stamp]) for metric_id, stamp, _ in rows]
        if not seen and len(set(keys)) == len(keys):
            new = list(rows)  # the usual case: nothing stored yet, no repeats in the batch
        else:
            new = []
            for key, row in zip(keys, rows, strict=True):
                if key not in seen:
                    seen.add(key)
                    new.append(row)
        params = [(metric_id, adapted[stamp], value) for metric_id, stamp, value in new]
        cursor.executemany(
            f"INSERT INTO {_table(Record)} (metric_id, timestamp, value) "  # noqa: S608
            "VALUES (%s, %s, %s) ON CONFLICT (metric_id, timestamp) DO NOTHING",
            params,
        )
    return new


_ROLLUP_COLUMNS = (
    "metric_id, minute, count, offset_mean, m2, low, high, first, first_at, last, last_at"
)


def _rollup_conflict() -> str:
    """The upsert's merge of a new partial rollup (`excluded`) into the stored one."""
    t = _table(MinuteRollup)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    delta = f"(excluded.offset_mean - {t}.offset_mean)"
    total = f"({t}.count + excluded.count)"
    return f"""ON CONFLICT (metric_id, minute) DO UPDATE SET
            count = {total},
            offset_mean = {t}.offset_mean + {delta} * excluded.count / {total},
            m2 = {t}.m2 + excluded.m2 + {delta} * {delta} * {t}.count * excluded.count / {total},
            low = {least}({t}.low, excluded.low),
            high = {greatest}({t}.high, excluded.high),
            first = CASE WHEN excluded.first_at < {t}.first_at
                         THEN excluded.first ELSE {t}.first END,
            first_at = {least}({t}.first_at, excluded.first_at),
            last = CASE WHEN excluded.last_at > {t}.last_at
                        THEN excluded.last ELSE {t}.last END,
            last_at = {greatest}({t}.last_at, excluded.last_at)"""


def rollups_merge(groups: Sequence[tuple[Any, ...]]) -> None:
    """Merge per-minute partial statistics into the stored rollups, in the database.

    Each group is (metric_id, minute, count, offset_mean, m2, low, high, first, first_at,
    last, last_at), the mean relative to the metric's reference. The merge (Chan's formula)
    runs inside the upsert, so concurrent writers of one minute cannot lose each other's work.
    """
    if not groups:
        return
    sql = f"""
        INSERT INTO {_table(MinuteRollup)} ({_ROLLUP_COLUMNS})
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        {_rollup_conflict()}
    """  # noqa: S608
    adapt = functools.lru_cache(maxsize=4096)(connection.ops.adapt_datetimefield_value)
    params = [
        (
            metric_id,
            adapt(minute),
            n,
            mean,
            m2,
            low,
            high,
            first,
            adapt(first_at),
            last,
            adapt(last_at),
        )
        for metric_id, minute, n, mean, m2, low, high, first, first_at, last, last_at in groups
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def metrics_touch(*, first_values: Mapping[int, float], now: datetime) -> dict[int, Touched]:
    """Mark the metrics that got new records as changed; return their references and exchanges.

    SQLite; `records_store` does the same on PostgreSQL. One statement per ingest: each
    metric's version grows by one and its change time moves to `now` (never back), and a
    reference not set yet is fixed from `first_values`. The rows it locks are the ingested
    metrics' own, so writers of other metrics never wait on them.
    Raises Metric.DoesNotExist naming the ids that are not metrics.
    """
    metric, pair = _table(Metric), _table(Pair)
    stamp = connection.ops.adapt_datetimefield_value(now)
    ids = sorted(first_values)
    # One JSON parameter, however many metrics: SQLite limits the number of parameters.
    # A join (UPDATE ... FROM), not a lookup in `v` per metric, which is quadratic.
    sql = f"""
        WITH v(id, first) AS (
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(%s)
        )
        UPDATE {metric} SET version = version + 1,
            changed_at = MAX(COALESCE(changed_at, %s), %s),
            reference = COALESCE(reference, v.first)
        FROM v WHERE {metric}.id = v.id
        RETURNING id, reference,
            (SELECT p.exchange_id FROM {pair} p WHERE p.id = {metric}.pair_id)
    """  # noqa: S608
    params = [json.dumps([[i, first_values[i]] for i in ids]), stamp, stamp]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        touched = {
            metric_id: Touched(reference=reference, exchange_id=exchange_id)
            for metric_id, reference, exchange_id in cursor.fetchall()
        }
    missing = sorted(set(ids) - set(touched))
    if missing:
        raise Metric.DoesNotExist(f"no metric with id {', '.join(map(str, missing))}")
    return touched
