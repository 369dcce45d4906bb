"""The overview page: every metric with its last value, 24-hour move, sparkline and rank."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create, records_add
from tracker.markets import services
from tracker.markets.models import Exchange, MetricKind, Pair, PairStatus
from tracker.markets.overview import overview_read

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)


def _hourly(metric, values, *, end=NOW):
    records_add(metric, values, end=end, step=timedelta(hours=1))


def test_a_metric_shows_its_last_value_move_and_hourly_closes():
    btc = metric_create("BTC/USD")
    _hourly(btc, [90.0, 100.0, 110.0, 120.0], end=NOW - timedelta(minutes=1))
    # older than the window: neither the move's start nor a sparkline point
    records_add(btc, [10.0], end=NOW - timedelta(hours=30))
    (row,) = [r for r in overview_read(now=NOW, limit=100)[0] if r.metric_id == btc.id]
    assert row.last_value == 120.0
    assert row.last_at == NOW - timedelta(minutes=1)
    assert row.open_value == 90.0
    assert row.change == pytest.approx(100 / 3)
    assert row.sparkline == (90.0, 100.0, 110.0, 120.0)
    assert (row.exchange, row.symbol, row.kind) == ("kraken", "BTC/USD", "price")


def test_the_sparkline_takes_each_hours_last_value():
    btc = metric_create("BTC/USD")
    start = NOW.replace(minute=0, second=0) - timedelta(hours=2)
    records_add(btc, [1.0, 2.0, 3.0], end=start + timedelta(minutes=2))
    records_add(btc, [5.0, 4.0], end=start + timedelta(hours=1, minutes=30))
    (row,) = [r for r in overview_read(now=NOW, limit=100)[0] if r.metric_id == btc.id]
    assert row.sparkline == (3.0, 4.0)


def test_rank_and_stddev_come_from_the_rank_snapshot():
    calm, wild = metric_create("BTC/USD"), metric_create("ETH/USD")
    records_add(calm, [100.0, 101.0, 100.0, 101.0], end=NOW - timedelta(minutes=2))
    records_add(wild, [100.0, 150.0, 50.0, 200.0], end=NOW - timedelta(minutes=2))
    services.ranks_refresh(kinds=[MetricKind.PRICE], now=NOW)
    rows = {r.metric_id: r for r in overview_read(now=NOW, limit=100)[0]}
    assert (rows[wild.id].rank, rows[wild.id].rank_of) == (1, 2)
    assert rows[calm.id].rank == 2
    wild_spread, calm_spread = rows[wild.id].stddev, rows[calm.id].stddev
    assert wild_spread is not None and calm_spread is not None
    assert wild_spread > calm_spread > 0


def test_a_metric_without_records_is_listed_with_nothing():
    metric = metric_create("SOL/USD", kind=MetricKind.VOLUME)
    (row,) = [r for r in overview_read(now=NOW, limit=100)[0] if r.metric_id == metric.id]
    assert (row.last_value, row.last_at, row.change, row.sparkline) == (None, None, None, ())
    assert row.rank is None
    assert row.exchange_status == "stale"  # never polled


def test_filters_and_the_limit_narrow_the_rows_and_the_total_counts_all():
    metric_create("BTC/USD")
    metric_create("ETH/USD")
    metric_create("BTC/EUR", exchange="bitstamp")
    rows, total = overview_read(now=NOW, kind="price", limit=100)
    assert total == 3 and len(rows) == 3
    rows, total = overview_read(now=NOW, exchange="bitstamp", limit=100)
    assert {(r.exchange, r.symbol) for r in rows} == {("bitstamp", "BTC/EUR")}
    assert total == len(MetricKind.values)
    rows, total = overview_read(now=NOW, text="btc", kind="price", limit=100)
    assert {r.symbol for r in rows} == {"BTC/USD", "BTC/EUR"}
    rows, total = overview_read(now=NOW, limit=4)
    assert len(rows) == 4 and total == 3 * len(MetricKind.values)


def test_the_page_lists_the_metrics_with_their_figures(client):
    btc = metric_create("BTC/USD")
    records_add(btc, [67_000.0, 67_234.5], end=datetime.now(UTC) - timedelta(seconds=5))
    Exchange.objects.filter(name="kraken").update(last_success=datetime.now(UTC), interval=60)
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-metric="{btc.id}"' in html
    assert "67,234.5" in html
    assert f'href="/metrics/{btc.id}"' in html
    assert 'data-status="ok" hidden' in html  # its exchange answers: no stale marker shown


def test_a_stale_exchange_shows_the_marker(client):
    metric_create("BTC/USD")
    Exchange.objects.filter(name="kraken").update(
        last_success=datetime.now(UTC) - timedelta(hours=1), interval=60
    )
    html = client.get("/").content.decode()
    assert 'class="badge stale" data-status="stale"' in html


def test_a_paused_pair_is_marked(client):
    metric_create("BTC/USD")
    Pair.objects.update(status=PairStatus.PAUSED)
    assert 'title="The pair is paused."' in client.get("/").content.decode()


def test_unknown_filter_values_are_ignored_not_an_error(client):
    metric_create("BTC/USD")
    for query in ("?kind=nope", "?exchange=%00", "?kind=price&q=btc", "?part=%FF"):
        page = client.get("/" + query)
        assert page.status_code == 200, query
        assert b"BTC/USD" in page.content
    page = client.get("/?q=" + "€" * 5000)
    assert page.status_code == 200
    assert "No metric matches." in page.content.decode()


def test_the_rows_part_is_the_table_body_alone(client):
    metric_create("BTC/USD")
    part = client.get("/?part=rows").content.decode()
    assert part.lstrip().startswith("<tbody") and "<html" not in part


def test_without_public_read_the_page_asks_to_sign_in(client, settings, django_user_model):
    settings.TRACKER_PUBLIC_READ = False
    metric = metric_create("BTC/USD")
    for path in ("/", f"/metrics/{metric.id}"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/login?next=")
    user = django_user_model.objects.create_user("ada", password="ada's long passphrase")
    client.force_login(user)
    assert client.get("/").status_code == 200


def test_pages_are_gzipped_and_api_answers_are_not(client):
    metric_create("BTC/USD")
    page = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert gzip.decompress(page.content).startswith(b"<!doctype html>")
    plain = client.get("/")
    assert "Content-Encoding" not in plain and plain.content.startswith(b"<!doctype html>")
    api = client.get("/api/v1/metrics", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in api
