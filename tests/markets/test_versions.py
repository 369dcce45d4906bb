"""Versions per metric: an ingest bumps the versions of the metrics it stored records of, in
its own transaction, and no other; writers of different metrics never wait on each other."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction

from tests.factories import metric_create
from tracker.markets.models import Metric, Record
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 3, 1, 12, 0, 0, 310744, tzinfo=UTC)


def _version(metric: Metric) -> tuple[int, datetime | None]:
    metric.refresh_from_db()
    return metric.version, metric.changed_at


def test_an_ingest_bumps_its_own_metrics_and_no_other():
    btc, eth = metric_create(), metric_create("ETH/USD")
    assert _version(btc) == (0, None)

    records_ingest(samples=[Sample(btc.id, NOW, 1.0)], now=NOW)
    records_ingest(samples=[Sample(btc.id, NOW + timedelta(seconds=1), 2.0)], now=NOW)

    assert _version(btc) == (2, NOW)
    assert _version(eth) == (0, None)


def test_a_repeated_write_bumps_nothing():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 1.0)], now=NOW)
    records_ingest(samples=[Sample(metric.id, NOW, 1.0)], now=NOW + timedelta(minutes=1))
    assert _version(metric) == (1, NOW)


def test_the_change_time_never_goes_back():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 1.0)], now=NOW)
    earlier = NOW - timedelta(hours=1)  # a clock that jumped back
    records_ingest(samples=[Sample(metric.id, earlier, 2.0)], now=earlier)
    assert _version(metric) == (2, NOW)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_writers_of_different_metrics_do_not_wait_on_each_other():
    """Two transactions open at once, on two connections, each writing another metric of the
    same kind and exchange: the second commits while the first is still open."""
    btc, eth = metric_create(), metric_create("ETH/USD")
    first_wrote, second_committed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                records_ingest(samples=[Sample(btc.id, NOW, 1.0)], now=NOW)
                first_wrote.set()
                # Still open, holding whatever the ingest locked, until the other committed.
                if not second_committed.wait(timeout=20):
                    raise AssertionError("the second writer waited on the first")
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_wrote.set()
            connections.close_all()

    def second() -> None:
        try:
            if not first_wrote.wait(timeout=20):
                raise AssertionError("the first writer did not write")
            with connections["default"].cursor() as cursor:  # fail rather than hang
                cursor.execute("SET lock_timeout = '15s'")
            records_ingest(samples=[Sample(eth.id, NOW, 2.0)], now=NOW)
            second_committed.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert Record.objects.filter(metric__in=[btc, eth]).count() == 2
    assert _version(btc)[0] == _version(eth)[0] == 1
