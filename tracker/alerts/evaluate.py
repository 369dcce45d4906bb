"""Alert rules evaluated on new records, following the "records ingested" event.

For each new record of a watched metric, the rule compares the value with the metric's average
over the rule's window before it: read from the minute rollups that start inside the window
(the record's own minute included) with the record itself taken out, never from a scan of raw
records. `above` holds when value > factor x average, `below` when value < average / factor;
an average of zero or less, or fewer than `min_samples` records in the window, decides nothing.

One episode, one alert: the condition opens an `AlertEvent` (and a pending delivery per
channel) when it first holds and no episode of the rule and metric is open, and at least the
cooldown has passed since the previous one started; the episode ends at the first record back
inside the band (with a resolved notice when the rule asks for one). A muted rule opens no
episode; one already open still ends, quietly. Records older than the rule's window when
evaluated (a backfill) are history and fire nothing.

The rules (`rulebook.RuleBook`) and the closed minutes of each window (`windows.WindowSums`)
are kept in memory between evaluations, so an evaluation costs a few queries whatever the
number of rules: the rules' version, the new records, the open minutes, the open episodes.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction

from tracker.markets.events import RecordsIngested
from tracker.markets.models import Record

from .models import AlertEvent, AlertRule, Delivery, Direction, Notice
from .rulebook import RuleBook, RuleGroup, RuleView
from .windows import WindowStats, WindowSums

logger = logging.getLogger(__name__)

# One of each per process: what evaluations keep between ticks.
rule_book = RuleBook()
window_sums = WindowSums()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation did: rule and record pairs looked at, episodes opened and ended."""

    evaluated: int = 0
    fired: int = 0
    resolved: int = 0


def caches_clear() -> None:
    """Forget the rules and windows kept in memory (another database, in tests)."""
    rule_book.clear()
    window_sums.clear()


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _new_records(
    metric_ids: list[int], *, since: datetime, until: datetime
) -> list[tuple[int, datetime, float]]:
    table = connection.ops.quote_name(Record._meta.db_table)
    sql = f"""
        SELECT metric_id, timestamp, value FROM {table}
        WHERE metric_id IN ({_marks(len(metric_ids))}) AND timestamp >= %s AND timestamp <= %s
        ORDER BY timestamp, metric_id
    """  # noqa: S608
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [*metric_ids, adapt(since), adapt(until)])
        rows = cursor.fetchall()
    return [(m, _aware(t), float(v)) for m, t, v in rows]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _open_episodes(metric_ids: list[int]) -> dict[tuple[int, int], int]:
    table = connection.ops.quote_name(AlertEvent._meta.db_table)
    sql = f"""
        SELECT rule_id, metric_id, id FROM {table}
        WHERE resolved_at IS NULL AND metric_id IN ({_marks(len(metric_ids))})
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, metric_ids)
        return {(rule_id, metric_id): event_id for rule_id, metric_id, event_id in cursor}


def alerts_evaluate(*, event: RecordsIngested, now: datetime) -> Outcome:
    """Evaluate every enabled rule watching the event's metrics on the event's new records."""
    window_sums.forget(metric_ids=event.metric_ids, since=event.since)
    watching = rule_book.watching(metric_ids=event.metric_ids)
    if not watching:
        return Outcome()
    watched = list(watching)
    longest = max(group.window_seconds for groups in watching.values() for group in groups)
    since = max(event.since, now - timedelta(seconds=longest))
    records = (
        sorted(
            (row for row in event.records if row[0] in watching and row[1] >= since),
            key=lambda row: (row[1], row[0]),
        )
        if event.records
        else _new_records(watched, since=since, until=event.until)
    )
    if not records:
        return Outcome()
    open_episodes: dict[int, dict[int, int]] = defaultdict(dict)  # metric -> rule -> event
    for (rule_id, metric_id), event_id in _open_episodes(watched).items():
        open_episodes[metric_id][rule_id] = event_id
    stats_by: dict[tuple[datetime, int], dict[int, WindowStats]] = {}
    evaluated = fired = resolved = 0
    for metric_id, stamp, value in records:
        # The average depends on the window only: computed once per window for this record.
        averages = _Averages(
            stats_by, watched, metric_id=metric_id, stamp=stamp, value=value, now=now
        )
        opened = open_episodes[metric_id]
        for group in watching[metric_id]:
            found = averages.of(group.window_seconds)
            if found is None:
                continue
            evaluated += 1
            average, samples = found
            for rule in group.rules[: _holding(group, value=value, average=average)]:
                if (
                    rule.id not in opened
                    and samples >= rule.min_samples
                    and _holds(rule, value, average)
                    and _may_fire(rule, metric_id, at=stamp)
                ):
                    started = _fire(
                        rule, metric_id=metric_id, value=value, average=average, at=stamp, now=now
                    )
                    if started is not None:
                        opened[rule.id] = started
                        fired += 1
        for rule_id, event_id in list(opened.items()):
            known = rule_book.rule(rule_id)
            found = averages.of(known.window_seconds) if known is not None else None
            if known is None or found is None or found[1] < known.min_samples:
                continue
            if not _holds(known, value, found[0]):
                _resolve(event_id, rule=known, value=value, at=stamp, now=now)
                del opened[rule_id]
                resolved += 1
    return Outcome(evaluated=evaluated, fired=fired, resolved=resolved)


def _holds(rule: RuleView, value: float, average: float) -> bool:
    if rule.direction == Direction.BELOW:
        return value < average / rule.factor
    return value > rule.factor * average


def _holding(group: RuleGroup, *, value: float, average: float) -> int:
    """How many of the group's rules (by ascending factor) may hold: above, those with factor <
    value / average; below, those with factor < average / value. A hair generous, so rounding
    never leaves one out; `_holds` decides each."""
    if group.direction == Direction.BELOW:
        ratio = average / value if value > 0 else math.inf
    else:
        ratio = value / average
    return bisect.bisect_right(group.factors, ratio * (1 + 1e-9))


class _Averages:
    """(average, samples) of one metric's windows before one record, each computed once; None
    when it decides nothing: a record older than the window (history), no other record in it,
    an average <= 0."""

    def __init__(
        self,
        stats_by: dict[tuple[datetime, int], dict[int, WindowStats]],
        watched: list[int],
        *,
        metric_id: int,
        stamp: datetime,
        value: float,
        now: datetime,
    ) -> None:
        self.stats_by, self.watched = stats_by, watched
        self.metric_id, self.stamp, self.value, self.now = metric_id, stamp, value, now
        self.found: dict[int, tuple[float, int] | None] = {}

    def of(self, window: int) -> tuple[float, int] | None:
        if window not in self.found:
            self.found[window] = self._compute(window)
        return self.found[window]

    def _compute(self, window: int) -> tuple[float, int] | None:
        span = timedelta(seconds=window)
        if self.stamp < self.now - span:
            return None
        key = (self.stamp, window)
        if key not in self.stats_by:
            # Every watched metric at once: the other records of this tick share the window.
            self.stats_by[key] = window_sums.stats(
                metric_ids=self.watched, since=self.stamp - span, until=self.stamp
            )
        stats = self.stats_by[key].get(self.metric_id)
        found = stats.average_without(self.value) if stats else None
        return None if found is None or found[0] <= 0 else found


def _may_fire(rule: RuleView, metric_id: int, *, at: datetime) -> bool:
    if rule.muted(at):
        return False
    last = (
        AlertEvent.objects.filter(rule_id=rule.id, metric_id=metric_id)
        .order_by("-fired_at")
        .values_list("fired_at", flat=True)
        .first()
    )
    return last is None or at >= last + timedelta(seconds=rule.cooldown)


def _fire(
    rule: RuleView, *, metric_id: int, value: float, average: float, at: datetime, now: datetime
) -> int | None:
    """Open an episode and queue its deliveries; its id, or None if another evaluator opened
    it first (or the rule is gone)."""
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                rule_id=rule.id,
                metric_id=metric_id,
                value=value,
                average=average,
                factor=rule.factor,
                direction=rule.direction,
                window_seconds=rule.window_seconds,
                fired_at=at,
            )
            _queue(event.id, rule=rule, notice=Notice.FIRING, now=now)
    except IntegrityError:
        return None  # the open-episode constraint (it is open already), or a deleted rule
    logger.info(
        "alert %r fired on metric %d: %g is %s %g x its %d s average %g",
        rule.name,
        metric_id,
        value,
        rule.direction,
        rule.factor,
        rule.window_seconds,
        average,
    )
    return event.id


def _resolve(episode_id: int, *, rule: RuleView, value: float, at: datetime, now: datetime) -> None:
    with transaction.atomic():
        ended = AlertEvent.objects.filter(id=episode_id, resolved_at__isnull=True).update(
            resolved_at=at, resolved_value=value
        )
        if ended and rule.notify_resolved and not rule.muted(at):
            _queue(episode_id, rule=rule, notice=Notice.RESOLVED, now=now)


def _queue(event_id: int, *, rule: RuleView, notice: str, now: datetime) -> None:
    channels = AlertRule.channels.through.objects.filter(alertrule_id=rule.id).values_list(
        "channel_id", flat=True
    )
    Delivery.objects.bulk_create(
        [
            Delivery(
                event_id=event_id,
                channel_id=channel_id,
                notice=notice,
                next_attempt_at=now,
                created_at=now,
            )
            for channel_id in channels
        ],
        ignore_conflicts=True,
    )
