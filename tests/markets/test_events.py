"""The "records ingested" event: once per committed ingest, with what was stored; nothing for a
rollback or a repeated write; a failing subscriber harms nobody. Real commits
(`transaction=True`), since the event waits for one."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from tests.factories import metric_create
from tracker.markets.events import (
    RecordsIngested,
    records_ingested_send,
    subscribe,
    subscribed,
    unsubscribe,
)
from tracker.markets.models import Metric, Record
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db(transaction=True)
SECOND = timedelta(seconds=1)
NOW = datetime(2024, 3, 1, 12, 0, 0, 310744, tzinfo=UTC)


class Received:
    """A subscriber that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[RecordsIngested] = []

    def __call__(self, event: RecordsIngested) -> None:
        self.events.append(event)


@pytest.fixture
def received():
    with subscribed(Received()) as receiver:
        yield receiver


def test_one_event_per_committed_ingest_with_the_metrics_and_the_time_range(received):
    price, volume = metric_create(), metric_create(kind="volume")
    metric_create("ETH/USD")  # not written to: not in the event
    stored = records_ingest(
        samples=[
            Sample(price.id, NOW, 100.0),
            Sample(volume.id, NOW + timedelta(seconds=2), 5.0),
            Sample(price.id, NOW + timedelta(seconds=1), 101.0),
        ]
    )

    assert stored == 3
    assert received.events == [
        RecordsIngested(
            exchange_id=price.pair.exchange_id,
            metric_ids=(price.id, volume.id),
            since=NOW,
            until=NOW + timedelta(seconds=2),
            count=3,
            records=(
                (price.id, NOW, 100.0),
                (volume.id, NOW + timedelta(seconds=2), 5.0),
                (price.id, NOW + timedelta(seconds=1), 101.0),
            ),
        )
    ]


def test_an_ingest_with_a_repeat_carries_no_records_but_says_what_is_new(received):
    price = metric_create()
    records_ingest(samples=[Sample(price.id, NOW, 100.0)])
    records_ingest(samples=[Sample(price.id, NOW, 100.0), Sample(price.id, NOW + SECOND, 101.0)])
    second = received.events[-1]
    assert (second.count, second.since, second.records) == (1, NOW + SECOND, ())


def test_the_event_is_sent_after_the_commit_and_sees_the_records(received):
    metric = metric_create()
    seen: list[int] = []
    with subscribed(lambda event: seen.append(Record.objects.filter(metric=metric).count())):
        with transaction.atomic():
            records_ingest(samples=[Sample(metric.id, NOW, 1.0)])
            assert received.events == []  # not yet: the outer transaction may still roll back
        assert len(received.events) == 1
    assert seen == [1]


def test_nothing_is_sent_for_a_rolled_back_ingest(received):
    metric = metric_create()

    def ingest_then_fail() -> None:
        with transaction.atomic():
            records_ingest(samples=[Sample(metric.id, NOW, 1.0)])
            raise RuntimeError("the caller's transaction fails after the ingest")

    with pytest.raises(RuntimeError):
        ingest_then_fail()
    with pytest.raises(Metric.DoesNotExist):
        records_ingest(samples=[Sample(metric.id, NOW, 1.0), Sample(10**9, NOW, 2.0)])

    assert received.events == []
    assert not Record.objects.exists()


def test_nothing_is_sent_when_nothing_new_was_stored(received):
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 1.0)])
    received.events.clear()

    assert records_ingest(samples=[Sample(metric.id, NOW, 2.0)]) == 0  # a repeated write
    assert records_ingest(samples=[Sample(metric.id, NOW, float("nan"))]) == 0
    assert records_ingest(samples=[]) == 0
    assert received.events == []


def test_an_ingest_over_two_exchanges_sends_one_event_for_each(received):
    kraken, bitstamp = metric_create(), metric_create(exchange="bitstamp")
    records_ingest(samples=[Sample(kraken.id, NOW, 1.0), Sample(bitstamp.id, NOW, 2.0)])

    by_exchange = {event.exchange_id: event.metric_ids for event in received.events}
    assert by_exchange == {
        kraken.pair.exchange_id: (kraken.id,),
        bitstamp.pair.exchange_id: (bitstamp.id,),
    }


def test_a_failing_subscriber_is_logged_and_harms_neither_the_ingest_nor_the_others(
    received, caplog
):
    def broken(event: RecordsIngested) -> None:
        raise ValueError("the subscriber is broken")

    after = Received()
    metric = metric_create()
    with subscribed(broken), subscribed(after), caplog.at_level(logging.ERROR):
        assert records_ingest(samples=[Sample(metric.id, NOW, 1.0)]) == 1

    assert len(received.events) == 1 and len(after.events) == 1
    assert Record.objects.filter(metric=metric).count() == 1
    (failure,) = [r for r in caplog.records if r.name == "tracker.markets.events"]
    assert "broken" in failure.getMessage()
    assert failure.exc_info is not None and "the subscriber is broken" in caplog.text


def test_an_unsubscribed_receiver_hears_nothing_more():
    receiver = Received()
    subscribe(receiver)
    subscribe(receiver)  # twice is once
    event = RecordsIngested(exchange_id=1, metric_ids=(1,), since=NOW, until=NOW, count=1)
    records_ingested_send(event)
    unsubscribe(receiver)
    unsubscribe(receiver)  # and unknown receivers are ignored
    records_ingested_send(event)
    assert receiver.events == [event]


def test_the_event_travels_as_json():
    event = RecordsIngested(
        exchange_id=3,
        metric_ids=(1, 2, 7),
        since=NOW,
        until=NOW + timedelta(seconds=1),
        count=4,
        records=((1, NOW, 2.5),),
    )
    wire = json.dumps(event.as_json())
    assert json.loads(wire) == {
        "exchange_id": 3,
        "metric_ids": [1, 2, 7],
        "since": "2024-03-01T12:00:00.310744+00:00",
        "until": "2024-03-01T12:00:01.310744+00:00",
        "count": 4,
        "records": [[1, "2024-03-01T12:00:00.310744+00:00", 2.5]],
    }
    assert RecordsIngested.from_json(json.loads(wire)) == event
