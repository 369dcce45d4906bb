"""Writes to the market store. Keyword-only functions named `<noun>_<verb>`."""

from __future__ import annotations

import functools
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from tracker.common.clock import utc_now

from . import events, ranking, storage
from .models import Exchange, ExchangeMode, Metric, MetricKind, Pair, PairStatus
from .stats import Moments

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    """A value to store for one metric at one moment."""

    metric_id: int
    timestamp: datetime
    value: float


def exchange_get_or_create(*, name: str, base_url: str = "") -> Exchange:
    """The exchange named `name`, created if new; a non-empty `base_url` replaces the stored one."""
    exchange, created = Exchange.objects.get_or_create(name=name, defaults={"base_url": base_url})
    if not created and base_url and exchange.base_url != base_url:
        exchange.base_url = base_url
        exchange.save(update_fields=["base_url"])
    return exchange


def exchanges_seed(*, seeds: Sequence[tuple[str, str, str]], interval: float) -> list[Exchange]:
    """Create the exchanges ((name, base_url, ws_url)) not stored yet, enabled, polled every
    `interval` seconds. Stored ones keep their settings; only a URL given here replaces theirs
    (the environment still says where a mirror or stand-in is)."""
    exchanges = []
    for name, base_url, ws_url in seeds:
        exchange, created = Exchange.objects.get_or_create(
            name=name, defaults={"base_url": base_url, "ws_url": ws_url, "interval": interval}
        )
        if created:
            logger.info("added exchange %s, polled every %gs", name, interval)
        changed = [
            field
            for field, value in (("base_url", base_url), ("ws_url", ws_url))
            if value and getattr(exchange, field) != value
        ]
        if changed:
            for field in changed:
                setattr(exchange, field, base_url if field == "base_url" else ws_url)
            exchange.save(update_fields=changed)
        exchanges.append(exchange)
    return exchanges


def exchange_create(
    *,
    name: str,
    interval: float,
    base_url: str = "",
    ws_url: str = "",
    mode: str = ExchangeMode.POLL,
) -> Exchange:
    """Add an exchange, enabled. Raises IntegrityError if it exists."""
    exchange = Exchange(name=name, interval=interval, base_url=base_url, ws_url=ws_url, mode=mode)
    exchange.full_clean(validate_unique=False, validate_constraints=False)
    exchange.save(force_insert=True)
    logger.info("added exchange %s, polled every %gs", name, interval)
    return exchange


def exchange_update(
    *,
    exchange: Exchange,
    enabled: bool | None = None,
    interval: float | None = None,
    mode: str | None = None,
    base_url: str | None = None,
    ws_url: str | None = None,
) -> Exchange:
    """Change how an exchange is polled; the runtime follows at its next sync. None leaves a
    field as it is."""
    changed = []
    fields = {
        "enabled": enabled,
        "interval": interval,
        "mode": mode,
        "base_url": base_url,
        "ws_url": ws_url,
    }
    for field, value in fields.items():
        if value is not None and getattr(exchange, field) != value:
            setattr(exchange, field, value)
            changed.append(field)
    if changed:
        exchange.save(update_fields=changed)
        logger.info(
            "exchange %s: %s",
            exchange.name,
            ", ".join(f"{field}={getattr(exchange, field)}" for field in changed),
        )
    return exchange


def exchange_health_record(*, name: str, now: datetime, error: str = "") -> None:
    """Write how the last poll of an exchange went: one UPDATE."""
    rows = Exchange.objects.filter(name=name)
    if error:
        rows.update(
            last_error=error,
            last_error_at=now,
            consecutive_failures=F("consecutive_failures") + 1,
        )
    else:
        rows.update(last_success=now, consecutive_failures=0)


def metric_kinds_configured() -> list[str]:
    """The metric kinds recorded for every pair (`TRACKER_METRICS`), in a stable order."""
    chosen = set(settings.TRACKER_METRICS)
    return [kind for kind in MetricKind.values if kind in chosen]


@transaction.atomic
def pairs_create(*, exchange: Exchange, symbols: Sequence[str]) -> list[Pair]:
    """Create the pairs (and one metric per configured kind) that do not exist yet; return all
    of them, in the order of `symbols`. A few statements however many symbols."""
    wanted = list(dict.fromkeys(symbols))
    Pair.objects.bulk_create(
        [Pair(exchange=exchange, symbol=symbol) for symbol in wanted],
        ignore_conflicts=True,
        batch_size=1000,
    )
    by_symbol = {
        pair.symbol: pair
        for pair in _chunked_in(Pair.objects.filter(exchange=exchange), "symbol__in", wanted)
    }
    pairs = [by_symbol[symbol] for symbol in wanted]
    metrics_ensure(pairs=pairs)
    return pairs


def metrics_ensure(*, pairs: Iterable[Pair] | None = None) -> int:
    """Give each pair (every pair if None) a metric of every configured kind it lacks.

    Idempotent: run when the tracker starts or seeds, so pairs created before a kind was
    configured gain it. Metrics of kinds no longer configured are kept, with their records.
    Returns how many metrics were created.
    """
    kinds = metric_kinds_configured()
    chosen = list(Pair.objects.all()) if pairs is None else list(pairs)
    ids = [pair.id for pair in chosen]
    have = set(_chunked_in(Metric.objects.values_list("pair_id", "kind"), "pair_id__in", ids))
    missing = [
        Metric(pair_id=pair_id, kind=kind)
        for pair_id in ids
        for kind in kinds
        if (pair_id, kind) not in have
    ]
    Metric.objects.bulk_create(missing, ignore_conflicts=True, batch_size=1000)
    return len(missing)


def _chunked_in(queryset: Any, lookup: str, values: Sequence[Any], size: int = 2000) -> list[Any]:
    """`queryset.filter(<lookup>=values)` in chunks: SQLite limits the parameters of a query."""
    found: list[Any] = []
    for start in range(0, len(values), size):
        found.extend(queryset.filter(**{lookup: values[start : start + size]}))
    return found


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _rollup_groups(
    rows: Sequence[storage.Row], touched: Mapping[int, storage.Touched]
) -> list[tuple[Any, ...]]:
    """Partial statistics of new rows per (metric, minute), ready for `rollups_merge`."""
    by_minute: dict[tuple[int, datetime], list[tuple[datetime, float]]] = defaultdict(list)
    minutes = {stamp: _minute(stamp) for stamp in {row[1] for row in rows}}
    for metric_id, stamp, value in rows:
        by_minute[(metric_id, minutes[stamp])].append((stamp, value))
    groups = []
    for (metric_id, minute), points in by_minute.items():
        points.sort()
        values = [value for _, value in points]
        moments = Moments.of(values, shift=touched[metric_id].reference)
        groups.append(
            (
                metric_id, minute, moments.count, moments.mean, moments.m2, min(values),
                max(values), points[0][1], points[0][0], points[-1][1], points[-1][0],
            )
        )  # fmt: skip
    return groups


def _stored(
    rows: Sequence[storage.Row], touched: Mapping[int, storage.Touched]
) -> list[storage.Stored]:
    """What the new rows are per exchange, by exchange."""
    by_exchange: dict[int, list[storage.Row]] = defaultdict(list)
    for row in rows:
        by_exchange[touched[row[0]].exchange_id].append(row)
    return [
        storage.Stored(
            exchange_id=exchange_id,
            metric_ids=tuple(sorted({row[0] for row in stored})),
            since=min(row[1] for row in stored),
            until=max(row[1] for row in stored),
            count=len(stored),
        )
        for exchange_id, stored in sorted(by_exchange.items())
    ]


def records_ingest(*, samples: Iterable[Sample], now: datetime | None = None) -> int:
    """Store samples and fold them into the minute rollups, all in one transaction.

    A sample whose (metric, timestamp) is already stored is left as it was and not counted
    twice. Non-finite values are refused here too, so no caller can write NaN into a series.
    Each metric that got records has its version bumped and its change time set to `now` in
    the same transaction; once it commits, a `RecordsIngested` event per exchange says what
    was stored (nothing is sent when nothing was). Returns how many records were stored.
    """
    offered = list(samples)
    rows: list[storage.Row] = [
        (s.metric_id, s.timestamp, s.value) for s in offered if math.isfinite(s.value)
    ]
    if len(rows) < len(offered):
        refused = sorted({s.metric_id for s in offered if not math.isfinite(s.value)})
        logger.warning("refused non-finite values for metrics %s", refused)
    if not rows:
        return 0
    moment = now or utc_now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            stored = storage.records_store(rows=rows, now=moment)
        else:
            stored = _records_store_stepwise(rows, now=moment)
        _ranks_invalidate_past(rows, stored=stored, now=moment)
        for item in stored:
            event = events.RecordsIngested(
                exchange_id=item.exchange_id,
                metric_ids=item.metric_ids,
                since=item.since,
                until=item.until,
                count=item.count,
                records=_records_carried(rows, item),
            )
            transaction.on_commit(functools.partial(events.records_ingested_send, event))
    return sum(item.count for item in stored)


def _records_carried(
    rows: Sequence[storage.Row], stored: storage.Stored
) -> tuple[storage.Row, ...]:
    """The rows offered for these metrics, if each was stored (as many offered as stored) and
    they are few enough to travel with the event; else none."""
    if stored.count > events.RECORDS_CARRIED:
        return ()
    metrics = set(stored.metric_ids)
    offered = tuple(row for row in rows if row[0] in metrics)
    return offered if len(offered) == stored.count else ()


def _records_store_stepwise(rows: Sequence[storage.Row], *, now: datetime) -> list[storage.Stored]:
    """SQLite: what `storage.records_store` does in one statement on PostgreSQL, step by step."""
    new = storage.records_insert_new(rows)
    if not new:
        return []
    first_values: dict[int, float] = {}
    for metric_id, _, value in new:
        first_values.setdefault(metric_id, value)
    touched = storage.metrics_touch(first_values=first_values, now=now)
    storage.rollups_merge(_rollup_groups(new, touched))
    return _stored(new, touched)


def _ranks_invalidate_past(
    rows: Sequence[storage.Row], *, stored: Sequence[storage.Stored], now: datetime
) -> None:
    """Records stored into minutes a rank refresh may have summed already (a backfill, a late
    sample) make their metrics' rank sums be computed again from scratch.

    `stored` says which metrics got new records and the earliest of them per exchange, not
    which rows were new; a row offered for a closed minute of such a metric counts, even if it
    was a repeat: at worst one rank is recomputed for nothing."""
    closed = ranking.minute_floor(now) - ranking.GRACE
    if all(item.since >= closed for item in stored):
        return  # the usual tick: everything new is in the open minutes
    got = {metric_id for item in stored for metric_id in item.metric_ids}
    past = sorted(
        {metric_id for metric_id, stamp, _ in rows if stamp < closed and metric_id in got}
    )
    if past:
        ranking.ranks_invalidate(metric_ids=past)


def ranks_refresh(*, kinds: Iterable[str], now: datetime) -> list[ranking.RankRefresh]:
    """Compute the 24-hour rank snapshot of every metric of each kind as of `now`.

    Incremental: each refresh folds in the minutes that closed and drops those that slid out,
    so its cost follows the number of metrics, not the window's length (see `ranking`). One
    transaction per kind. Callers schedule it: after committed ingests (the runtime) or from a
    task.
    """
    return [ranking.kind_refresh(kind=kind, now=now) for kind in dict.fromkeys(kinds)]


@transaction.atomic
def pair_status_set(*, pair: Pair, status: str, reason: str, now: datetime) -> None:
    """Change a pair's status. Its metrics say whether they are active, so their versions move
    too: a cached answer about them is not served any more."""
    changed = pair.status != status
    pair.status, pair.status_reason, pair.status_changed_at = status, reason, now
    pair.save(update_fields=["status", "status_reason", "status_changed_at"])
    if changed:
        Metric.objects.filter(pair=pair).update(
            version=F("version") + 1,
            changed_at=Greatest(Coalesce(F("changed_at"), Value(now)), Value(now)),
        )


def pair_set_active(*, pair: Pair, active: bool, now: datetime, by: str = "") -> Pair:
    """Pause (False) or resume (True) polling of a pair; its records are kept either way.

    Resuming a delisted pair tries it again: if the exchange still refuses it, the next poll
    delists it again. Pausing one changes nothing: it is not polled, and it keeps the reason.
    """
    if not active and pair.status == PairStatus.DELISTED:
        return pair
    status = PairStatus.ACTIVE if active else PairStatus.PAUSED
    if pair.status != status:
        verb = "resumed" if active else "paused"
        reason = f"{verb} by {by}" if by else ""
        pair_status_set(pair=pair, status=status, reason=reason, now=now)
        logger.info("%s polling of %s", verb, pair)
    return pair


@transaction.atomic
def pairs_delist(*, exchange_id: int, reasons: Mapping[str, str], now: datetime) -> list[Pair]:
    """Stop polling the active pairs named in `reasons` ({symbol: why}); keep their records."""
    pairs = list(
        Pair.objects.select_for_update().filter(
            exchange_id=exchange_id, symbol__in=list(reasons), status=PairStatus.ACTIVE
        )
    )
    for pair in pairs:
        pair_status_set(pair=pair, status=PairStatus.DELISTED, reason=reasons[pair.symbol], now=now)
    return pairs


def pair_backfilled_mark(*, pair: Pair, since: datetime, until: datetime) -> Pair:
    """Widen the window the pair records as filled from candles to cover [since, until]."""
    pair.refresh_from_db(fields=["backfilled_from", "backfilled_until"])
    if pair.backfilled_from is None or since < pair.backfilled_from:
        pair.backfilled_from = since
    if pair.backfilled_until is None or until > pair.backfilled_until:
        pair.backfilled_until = until
    pair.save(update_fields=["backfilled_from", "backfilled_until"])
    return pair
