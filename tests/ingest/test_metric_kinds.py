"""Which metrics a ticker answer becomes: the kinds `TRACKER_METRICS` configures, and only
values the answer has. A spread is not a price: zero or negative (a crossed book) is stored."""

from __future__ import annotations

import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.process import ROOT, tracker_env
from tracker.exchanges import Ticker
from tracker.ingest.services import tickers_store
from tracker.markets import services
from tracker.markets.models import Metric, MetricKind, Record
from tracker.markets.selectors import metric_rank
from tracker.markets.services import ranks_refresh

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def _ticker(symbol: str, *, bid: float | None, ask: float | None, at: datetime = NOW) -> Ticker:
    return Ticker.build(symbol=symbol, timestamp=at, last=100.0, base_volume=7.0, bid=bid, ask=ask)


def _stored() -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = {}
    for symbol, kind, value in Record.objects.order_by("timestamp").values_list(
        "metric__pair__symbol", "metric__kind", "value"
    ):
        out.setdefault((symbol, kind), []).append(value)
    return out


def _exchange_with(*symbols: str) -> int:
    exchange = services.exchange_get_or_create(name="kraken")
    services.pairs_create(exchange=exchange, symbols=symbols)
    return exchange.id


def test_a_pair_gets_a_metric_of_every_default_kind():
    _exchange_with("BTC/USD")
    kinds = set(Metric.objects.values_list("kind", flat=True))
    assert kinds == {"price", "volume", "bid", "ask", "spread"} == set(MetricKind.values)


def test_only_the_configured_kinds_are_created_and_stored(settings):
    settings.TRACKER_METRICS = ["price", "spread"]
    exchange_id = _exchange_with("BTC/USD")
    assert set(Metric.objects.values_list("kind", flat=True)) == {"price", "spread"}

    stored = tickers_store(
        exchange_id=exchange_id, tickers=[_ticker("BTC/USD", bid=99.0, ask=101.5)], now=NOW
    )

    assert stored == 2
    assert _stored() == {("BTC/USD", "price"): [100.0], ("BTC/USD", "spread"): [2.5]}


def test_a_kind_no_longer_configured_is_kept_but_not_stored(settings):
    exchange_id = _exchange_with("BTC/USD")
    settings.TRACKER_METRICS = ["price"]

    tickers_store(exchange_id=exchange_id, tickers=[_ticker("BTC/USD", bid=1, ask=2)], now=NOW)

    assert Metric.objects.count() == 5
    assert set(_stored()) == {("BTC/USD", "price")}


def test_a_ticker_without_quotes_stores_no_bid_ask_or_spread():
    exchange_id = _exchange_with("BTC/USD", "ETH/USD")

    tickers_store(
        exchange_id=exchange_id,
        tickers=[_ticker("BTC/USD", bid=None, ask=None), _ticker("ETH/USD", bid=None, ask=3.0)],
        now=NOW,
    )

    assert set(_stored()) == {
        ("BTC/USD", "price"), ("BTC/USD", "volume"), ("ETH/USD", "price"), ("ETH/USD", "volume")
    }  # fmt: skip


def test_a_crossed_book_stores_zero_and_negative_spreads_and_ranks_them():
    exchange_id = _exchange_with("BTC/USD", "ETH/USD")
    quotes = {"BTC/USD": [(100.0, 100.0), (101.0, 99.5), (100.0, 100.5)], "ETH/USD": []}
    quotes["ETH/USD"] = [(10.0, 10.1), (10.0, 10.1), (10.0, 10.2)]
    for minute in range(3):
        tickers_store(
            exchange_id=exchange_id,
            tickers=[
                _ticker(s, bid=q[minute][0], ask=q[minute][1], at=NOW + timedelta(minutes=minute))
                for s, q in quotes.items()
            ],
            now=NOW,
        )

    assert _stored()[("BTC/USD", "spread")] == [0.0, -1.5, 0.5]
    btc = Metric.objects.get(pair__symbol="BTC/USD", kind="spread")
    eth = Metric.objects.get(pair__symbol="ETH/USD", kind="spread")
    assert btc.reference == 0.0
    later = NOW + timedelta(minutes=3)
    ranks_refresh(kinds=["spread", "price"], now=later)
    ranks = {m: metric_rank(metric=m) for m in (btc, eth)}
    assert ranks[btc].stddev == pytest.approx(statistics.pstdev([0.0, -1.5, 0.5]))
    assert (ranks[btc].rank, ranks[eth].rank, ranks[btc].rank_of) == (1, 2, 2)
    # Ranked among spreads only: the prices (constant 100) form their own ranking.
    price = Metric.objects.get(pair__symbol="BTC/USD", kind="price")
    assert metric_rank(metric=price).rank_of == 2


def test_metrics_ensure_adds_the_missing_kinds_once(settings):
    settings.TRACKER_METRICS = ["price"]
    _exchange_with("BTC/USD", "ETH/USD")
    assert Metric.objects.count() == 2
    settings.TRACKER_METRICS = ["price", "bid", "ask"]

    assert services.metrics_ensure() == 4
    assert services.metrics_ensure() == 0
    assert Metric.objects.filter(kind="bid").count() == 2
    assert Metric.objects.count() == 6


@pytest.mark.parametrize(
    ("value", "named"), [("price,depth", "depth"), (",", "empty")], ids=["unknown", "empty"]
)
def test_an_unknown_metric_kind_stops_the_settings_naming_it(tmp_path, value, named):
    env = {**tracker_env(tmp_path), "TRACKER_METRICS": value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr
