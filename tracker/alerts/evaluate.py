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
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction

from tracker.common.clock import as_utc
from tracker.markets.events import RecordsIngested
from tracker.markets.models import Record

from .models import AlertEvent, AlertRule, Delivery, Direction, Notice
from .rulebook import RuleBook, RuleGroup, RuleView
from .windows import MINUTE, WindowStats, WindowSums, minute_floor

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
    return [(m, as_utc(t), float(v)) for m, t, v in rows]


def _open_episodes(metric_ids: list[int]) -> dict[int, dict[int, tuple[int, datetime]]]:
    """metric -> rule -> (event id, fired at) of every open episode of these metrics."""
    table = connection.ops.quote_name(AlertEvent._meta.db_table)
    sql = f"""
        SELECT rule_id, metric_id, id, fired_at FROM {table}
        WHERE resolved_at IS NULL AND metric_id IN ({_marks(len(metric_ids))})
    """  # noqa: S608
    found: dict[int, dict[int, tuple[int, datetime]]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, metric_ids)
        for rule_id, metric_id, event_id, fired_at in cursor.fetchall():
            found[metric_id][rule_id] = (event_id, as_utc(fired_at))
    return found


def alerts_evaluate(*, event: RecordsIngested, now: datetime) -> Outcome:
    """Evaluate every enabled rule watching the event's metrics on the event's new records."""
    window_sums.forget(_earliest_per_metric(event))
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
    open_episodes = _open_episodes(watched)
    windows = _Windows(watched, now=now)
    evaluated = fired = resolved = 0
    for metric_id, stamp, value in records:
        # The average depends on the window only: computed once per window for this record.
        averages: dict[int, tuple[float, int] | None] = {}
        opened = open_episodes[metric_id]
        for group in watching[metric_id]:
            found = _average(windows, averages, metric_id, stamp, value, group.window_seconds)
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
                        opened[rule.id] = (started, stamp)
                        fired += 1
        for rule_id, (event_id, fired_at) in list(opened.items()):
            known = rule_book.rule(rule_id)
            found = (
                _average(windows, averages, metric_id, stamp, value, known.window_seconds)
                if known is not None
                else None
            )
            if known is None or found is None or found[1] < known.min_samples:
                continue
            # Only a record after the one that started the episode can end it: the same
            # records may come again (an event read back from the database).
            if stamp > fired_at and not _holds(known, value, found[0]):
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


class _Windows:
    """The window sums one evaluation reads, by record time and window: read once per
    distinct span of minutes, for every watched metric at once (the other records of a tick
    share them)."""

    def __init__(self, watched: list[int], *, now: datetime) -> None:
        self.watched, self.now = watched, now
        self._oldest: dict[int, datetime] = {}
        self.by_time: dict[tuple[datetime, int], dict[int, WindowStats]] = {}
        self.by_minutes: dict[tuple[datetime, datetime], dict[int, WindowStats]] = {}

    def oldest(self, window: int) -> datetime:
        """The earliest record time a window of this length still evaluates: older is history."""
        if window not in self._oldest:
            self._oldest[window] = self.now - timedelta(seconds=window)
        return self._oldest[window]

    def stats(self, stamp: datetime, window: int) -> dict[int, WindowStats]:
        key = (stamp, window)
        if key not in self.by_time:
            # The rollups of the minutes starting in [stamp - window, stamp]: the same for
            # every record within one minute (a streamed exchange's records each have their
            # own time).
            span = timedelta(seconds=window)
            first = minute_floor(stamp - span)
            if first < stamp - span:
                first += MINUTE
            minutes = (first, minute_floor(stamp))
            if minutes not in self.by_minutes:
                self.by_minutes[minutes] = window_sums.stats(
                    metric_ids=self.watched, since=minutes[0], until=minutes[1]
                )
            self.by_time[key] = self.by_minutes[minutes]
        return self.by_time[key]


def _average(
    windows: _Windows,
    averages: dict[int, tuple[float, int] | None],
    metric_id: int,
    stamp: datetime,
    value: float,
    window: int,
) -> tuple[float, int] | None:
    """(average, samples) of the metric's window before the record, once per window (kept in
    `averages`); None when it decides nothing: a record older than the window (history), no
    other record in it, an average <= 0."""
    if window in averages:
        return averages[window]
    found = None
    if stamp >= windows.oldest(window):
        stats = windows.stats(stamp, window).get(metric_id)
        if stats is not None and stats.count > 1:
            average = (stats.total - value) / (stats.count - 1)
            if average > 0:
                found = (average, stats.count - 1)
    averages[window] = found
    return found


def _may_fire(rule: RuleView, metric_id: int, *, at: datetime) -> bool:
    """Not muted, and `at` after the previous episode (a record evaluated again never fires
    twice) and at least the cooldown after its start."""
    if rule.muted(at):
        return False
    last = (
        AlertEvent.objects.filter(rule_id=rule.id, metric_id=metric_id)
        .order_by("-fired_at")
        .values_list("fired_at", "resolved_at")
        .first()
    )
    if last is None:
        return True
    fired_at, resolved_at = last
    return (
        at > fired_at
        and (resolved_at is None or at > resolved_at)
        and at >= fired_at + timedelta(seconds=rule.cooldown)
    )


def _earliest_per_metric(event: RecordsIngested) -> dict[int, datetime]:
    """The earliest new record of each metric: where kept window sums may have gone stale."""
    if not event.records:
        return dict.fromkeys(event.metric_ids, event.since)
    earliest: dict[int, datetime] = {}
    for metric_id, stamp, _ in event.records:
        if metric_id not in earliest or stamp < earliest[metric_id]:
            earliest[metric_id] = stamp
    return earliest


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
    """A delivery of `notice` per channel: the rule's, for a firing; for a resolved notice,
    those the firing went to (a channel removed from the rule since still hears the end)."""
    channels = (
        AlertRule.channels.through.objects.filter(alertrule_id=rule.id).values_list(
            "channel_id", flat=True
        )
        if notice == Notice.FIRING
        else Delivery.objects.filter(event_id=event_id, notice=Notice.FIRING).values_list(
            "channel_id", flat=True
        )
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
