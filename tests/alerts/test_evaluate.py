"""Alert rules evaluated on ingested records: where they fire, once per episode.

Each tick stores one record through the real write path (records and minute rollups) and
evaluates the rules as the "records ingested" event would make the tracker do, with the
tick's time as now. The expected firings come from a direct computation over the raw values
in Python, with the same window (minutes starting inside it, the new record left out).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from tests.factories import metric_create
from tracker.alerts import services
from tracker.alerts.evaluate import alerts_evaluate
from tracker.alerts.models import AlertEvent, Channel, Delivery, Direction, Notice
from tracker.markets.events import RecordsIngested
from tracker.markets.models import Metric, MetricKind
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("carol", password="a long enough passphrase")


@pytest.fixture
def channel(owner) -> Channel:
    return services.channel_create(
        owner=owner, fields={"name": "hook", "kind": "webhook", "url": "https://hooks.example/x"}
    )


def rule_for(owner, channel, metrics=(), **fields):
    fields.setdefault("name", "spike")
    return services.rule_create(owner=owner, fields=fields, metrics=metrics, channels=[channel])


def tick(metric: Metric, at: datetime, value: float):
    """Store one record and evaluate, as the tracker does after a committed ingest."""
    stored = records_ingest(samples=[Sample(metric.id, at, value)], now=at)
    assert stored == 1
    event = RecordsIngested(
        exchange_id=metric.pair.exchange_id, metric_ids=(metric.id,), since=at, until=at, count=1
    )
    return alerts_evaluate(event=event, now=at)


def replay(metric: Metric, values: list[float], start: datetime = START) -> list[datetime]:
    """Tick every value in turn; the times at which an episode opened."""
    fired = []
    for i, value in enumerate(values):
        at = start + STEP * i
        if tick(metric, at, value).fired:
            fired.append(at)
    return fired


def expected_firings(
    values: list[float], *, factor: float, window: int, min_samples: int, cooldown: int
) -> list[datetime]:
    """The same rule, computed directly over the raw values."""
    times = [START + STEP * i for i in range(len(values))]
    fired: list[datetime] = []
    open_episode = False
    for i, (at, value) in enumerate(zip(times, values, strict=True)):
        first_minute = at - timedelta(seconds=window)
        inside = [
            v
            for j, (t, v) in enumerate(zip(times, values, strict=True))
            if j != i and t <= at and t.replace(second=0) >= first_minute
        ]
        if len(inside) < min_samples:
            continue
        average = sum(inside) / len(inside)
        holds = value > factor * average
        if open_episode and not holds:
            open_episode = False
        elif (
            not open_episode
            and holds
            and (not fired or at >= fired[-1] + timedelta(seconds=cooldown))
        ):
            fired.append(at)
            open_episode = True
    return fired


def test_a_spike_fires_once_and_its_end_resolves_the_episode(owner, channel):
    metric = metric_create()
    rule = rule_for(owner, channel, metrics=[metric], window_seconds=600)
    assert replay(metric, [100.0] * 30) == []  # 15 minutes of calm
    spike_at = START + STEP * 30
    assert replay(metric, [400.0, 410.0, 420.0], start=spike_at) == [spike_at]
    (event,) = AlertEvent.objects.filter(rule=rule)
    assert (event.value, event.average, event.resolved_at) == (400.0, 100.0, None)
    calm_at = START + STEP * 33
    assert tick(metric, calm_at, 100.0).resolved == 1
    event.refresh_from_db()
    assert (event.resolved_at, event.resolved_value) == (calm_at, 100.0)
    notices = list(Delivery.objects.filter(event=event).values_list("notice", flat=True))
    assert sorted(notices) == [Notice.FIRING, Notice.RESOLVED]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_firings_are_where_a_direct_computation_puts_them(owner, channel, seed):
    generator = random.Random(seed)
    values, price = [], 100.0
    for i in range(240):  # two hours at 30 s
        price *= 1 + generator.gauss(0, 0.002)
        spike = i % 47 == 46 or (i % 47 == 45 and seed == 2)  # spikes, some two ticks long
        values.append(price * (3.1 if spike else 1.0))  # close to 3x: the record must be left out
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=900, cooldown_seconds=300)
    fired = replay(metric, values)
    assert fired == expected_firings(values, factor=3.0, window=900, min_samples=10, cooldown=300)
    assert len(fired) == 5


def test_a_cold_start_does_not_fire(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], min_samples=10)
    assert replay(metric, [1.0, 1.0, 1.0, 50.0]) == []


def test_the_cooldown_holds_back_a_second_episode(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600, cooldown_seconds=1800)
    values = [100.0] * 20 + [500.0] + [100.0] * 10 + [500.0] + [100.0] * 60 + [500.0]
    fired = replay(metric, values)
    assert fired == [START + STEP * 20, START + STEP * 92]  # not the one 5 minutes later


def test_a_muted_rule_opens_no_episode_until_the_silence_ends(owner, channel):
    metric = metric_create()
    mute_end = START + STEP * 25
    rule_for(owner, channel, metrics=[metric], window_seconds=600, muted_until=mute_end)
    values = [100.0] * 20 + [500.0] + [100.0] * 10 + [500.0]
    assert replay(metric, values) == [START + STEP * 31]


def test_below_fires_on_a_drop(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600, direction=Direction.BELOW)
    assert replay(metric, [90.0] * 20 + [20.0]) == [START + STEP * 20]
    assert tick(metric, START + STEP * 21, 80.0).resolved == 1


def test_a_kind_rule_watches_pairs_added_later(owner, channel):
    rule_for(owner, channel, kind=MetricKind.PRICE, window_seconds=600)
    later = metric_create("ETH/USD")
    assert replay(later, [100.0] * 20 + [400.0]) == [START + STEP * 20]
    volume = Metric.objects.get(pair=later.pair, kind=MetricKind.VOLUME)
    assert replay(volume, [100.0] * 20 + [400.0], start=START + timedelta(hours=1)) == []


def test_a_backfill_of_history_fires_nothing(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600)
    values = [100.0] * 20 + [500.0]
    records_ingest(
        samples=[Sample(metric.id, START + STEP * i, v) for i, v in enumerate(values)], now=START
    )
    event = RecordsIngested(
        exchange_id=metric.pair.exchange_id,
        metric_ids=(metric.id,),
        since=START,
        until=START + STEP * 20,
        count=21,
    )
    assert alerts_evaluate(event=event, now=START + timedelta(days=1)).fired == 0


def test_the_same_event_evaluated_twice_fires_once(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600)
    replay(metric, [100.0] * 20)
    at = START + STEP * 20
    assert tick(metric, at, 500.0).fired == 1
    again = RecordsIngested(
        exchange_id=metric.pair.exchange_id, metric_ids=(metric.id,), since=at, until=at, count=1
    )
    assert alerts_evaluate(event=again, now=at).fired == 0
    assert AlertEvent.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_disabled_rule_is_not_evaluated(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600, enabled=False)
    assert replay(metric, [100.0] * 20 + [500.0]) == []


def test_records_evaluated_again_neither_resolve_nor_fire_twice(owner, channel):
    metric = metric_create()
    rule_for(owner, channel, metrics=[metric], window_seconds=600, cooldown_seconds=0)
    replay(metric, [100.0] * 20)
    spike_at = START + STEP * 20
    assert tick(metric, spike_at, 500.0).fired == 1
    # An event read back from the database: its range holds calm records from before the spike.
    again = RecordsIngested(
        exchange_id=metric.pair.exchange_id,
        metric_ids=(metric.id,),
        since=START + STEP * 15,
        until=spike_at,
        count=1,
    )
    outcome = alerts_evaluate(event=again, now=spike_at)
    assert (outcome.fired, outcome.resolved) == (0, 0)
    (event,) = AlertEvent.objects.all()
    assert event.resolved_at is None
