"""SQL of the write path, per database: insert new records, merge rollups, touch the metrics.

Kept apart from services.py because the two databases need different statements for the same
job: PostgreSQL reports the rows it inserted (`RETURNING`); SQLite, which serialises writers
(`BEGIN IMMEDIATE`), is asked which rows already exist first.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from .models import Metric, MinuteRollup, Pair, Record

Row = tuple[int, datetime, float]


@dataclass(frozen=True, slots=True)
class Touched:
    """What the write path needs to know of a metric it stored records of."""

    reference: float
    exchange_id: int


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def records_insert_new(rows: Sequence[Row]) -> list[Row]:
    """Insert rows whose (metric, timestamp) is not stored yet; return exactly those rows."""
    if connection.vendor == "postgresql":
        return _insert_returning(rows)
    return _insert_after_lookup(rows)


def _insert_returning(rows: Sequence[Row]) -> list[Row]:
    sql = (
        f"INSERT INTO {_table(Record)} (metric_id, timestamp, value) "  # noqa: S608
        "SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[]) "
        "ON CONFLICT (metric_id, timestamp) DO NOTHING RETURNING metric_id, timestamp, value"
    )
    metric_ids, stamps, values = zip(*rows, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(metric_ids), list(stamps), list(values)])
        return [tuple(row) for row in cursor.fetchall()]


def _insert_after_lookup(rows: Sequence[Row]) -> list[Row]:
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


@contextmanager
def binary_cursor() -> Iterator[Any]:
    """A psycopg cursor on Django's PostgreSQL connection that binds parameters on the server,
    in binary where the query says `%b`, inside Django's transaction and error translation.

    Django's own cursors bind on the client: each parameter is quoted into the SQL text, which
    for an array of 50,000 numbers costs more than the statement itself.
    """
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def rollups_merge(groups: Sequence[tuple[Any, ...]]) -> None:
    """Merge per-minute partial statistics into the stored rollups, in the database.

    Each group is (metric_id, minute, count, offset_mean, m2, low, high, first, first_at,
    last, last_at), the mean relative to the metric's reference. The merge (Chan's formula)
    runs inside the upsert, so concurrent writers of one minute cannot lose each other's work.
    """
    if not groups:
        return
    t = _table(MinuteRollup)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    delta = f"(excluded.offset_mean - {t}.offset_mean)"
    total = f"({t}.count + excluded.count)"
    postgresql = connection.vendor == "postgresql"
    # PostgreSQL: every group in one statement, a column per array (a tick of 10,000 pairs is
    # 50,000 groups: one upsert each costs seconds even pipelined). The groups are unique per
    # (metric, minute), which an upsert of many rows at once requires.
    rows = (
        "SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], %b::bigint[], %b::float8[], "
        "%b::float8[], %b::float8[], %b::float8[], %b::float8[], %b::timestamptz[], "
        "%b::float8[], %b::timestamptz[])"
        if postgresql
        else "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    sql = f"""
        INSERT INTO {t} (metric_id, minute, count, offset_mean, m2, low, high,
                         first, first_at, last, last_at)
        {rows}
        ON CONFLICT (metric_id, minute) DO UPDATE SET
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
            last_at = {greatest}({t}.last_at, excluded.last_at)
    """
    if postgresql:
        with binary_cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*groups, strict=True)])
        return
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

    One statement per ingest: each metric's version grows by one and its change time moves to
    `now` (never back), and a reference not set yet is fixed from `first_values`. The rows it
    locks are the ingested metrics' own, so writers of other metrics never wait on them.
    Raises Metric.DoesNotExist naming the ids that are not metrics.
    """
    metric, pair = _table(Metric), _table(Pair)
    ids = sorted(first_values)
    if connection.vendor == "postgresql":
        sql = f"""
            UPDATE {metric} AS m SET version = m.version + 1,
                changed_at = GREATEST(m.changed_at, %b), reference = COALESCE(m.reference, v.first)
            FROM unnest(%b::bigint[], %b::float8[]) AS v(id, first), {pair} p
            WHERE m.id = v.id AND p.id = m.pair_id
            RETURNING m.id, m.reference, p.exchange_id
        """  # noqa: S608
        with binary_cursor() as cursor:
            cursor.execute(sql, [now, ids, [first_values[i] for i in ids]])
            rows = cursor.fetchall()
    else:  # one JSON parameter, however many metrics: SQLite limits the number of parameters.
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
        stamp = connection.ops.adapt_datetimefield_value(now)
        params = [json.dumps([[i, first_values[i]] for i in ids]), stamp, stamp]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    touched = {
        metric_id: Touched(reference=reference, exchange_id=exchange_id)
        for metric_id, reference, exchange_id in rows
    }
    missing = sorted(set(ids) - set(touched))
    if missing:
        raise Metric.DoesNotExist(f"no metric with id {', '.join(map(str, missing))}")
    return touched
