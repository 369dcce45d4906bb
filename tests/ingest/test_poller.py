"""The poller against the stand-in exchange, through the real ccxt client.

Time is a manual clock: backoff is checked by moving it, not by sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.fakes.base import num
from tests.fakes.kraken import FakeKraken
from tracker.exchanges import ExchangeClient
from tracker.ingest.backoff import Backoff
from tracker.ingest.poller import Poller
from tracker.markets.events import RecordsIngested, subscribed
from tracker.markets.models import Metric, Pair, PairStatus, Record
from tracker.markets.services import pair_set_active

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")
SYMBOLS = ("BTC/USD", "ETH/USD", "DOGE/USD")


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def with_poller(
    kraken: FakeKraken,
    clock: ManualClock,
    body: Callable[[Poller], Awaitable[T]],
    symbols: tuple[str, ...] = SYMBOLS,
) -> T:
    async def main() -> T:
        async with ExchangeClient(
            "kraken", base_url=kraken.url, timeout=1, throttle=False
        ) as client:
            poller = Poller(
                client=client,
                symbols=symbols,
                base_url=kraken.url,
                backoff=Backoff(base=10, cap=60, rng=random.Random(7)),
                clock=clock,
            )
            try:
                return await body(poller)
            finally:
                # The poller's database work ran in a worker thread: close its connection.
                await sync_to_async(connections.close_all)()

    return asyncio.run(main())


def stored() -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = {}
    for symbol, kind, value in Record.objects.order_by("timestamp").values_list(
        "metric__pair__symbol", "metric__kind", "value"
    ):
        out.setdefault((symbol, kind), []).append(value)
    return out


def test_a_tick_stores_every_metric_of_every_pair_from_one_ticker_call(kraken, clock):
    kraken.prices.set("BTC/USD", 42284.6, 1414.5)
    kraken.prices.set("DOGE/USD", 0.0812, 9_000_000)

    result = with_poller(kraken, clock, lambda p: p.tick())

    assert result is not None and result.stored == 15  # 3 pairs x 5 metrics
    assert kraken.request_count("Ticker") == 1
    records = stored()
    assert records[("BTC/USD", "price")] == [42284.6]
    assert records[("BTC/USD", "volume")] == [1414.5]
    bid, ask = float(num(42284.6 * 0.9998)), float(num(42284.6 * 1.0002))
    assert records[("BTC/USD", "bid")] == [bid]
    assert records[("BTC/USD", "ask")] == [ask]
    assert records[("BTC/USD", "spread")] == [pytest.approx(ask - bid)]
    assert records[("DOGE/USD", "price")] == [0.0812]
    assert records[("DOGE/USD", "spread")] == [
        pytest.approx(float(num(0.0812 * 1.0002)) - float(num(0.0812 * 0.9998)))
    ]
    assert set(Record.objects.values_list("timestamp", flat=True)) == {clock.now}


def test_a_tick_tells_what_it_stored_once_committed(kraken, clock):
    events: list[RecordsIngested] = []
    with subscribed(events.append):
        result = with_poller(kraken, clock, lambda p: p.tick())

    assert result is not None
    (event,) = events
    polled = Metric.objects.filter(pair__symbol__in=SYMBOLS)
    stored_records = tuple(
        Record.objects.filter(metric__in=polled).values_list("metric_id", "timestamp", "value")
    )
    assert event == RecordsIngested(
        exchange_id=Pair.objects.get(symbol="BTC/USD").exchange_id,
        metric_ids=tuple(sorted(polled.values_list("id", flat=True))),
        since=clock.now,
        until=clock.now,
        count=result.stored,
        records=event.records,
    )
    assert sorted(event.records) == sorted(stored_records)  # the tick's records travel with it
    assert set(polled.values_list("version", "changed_at")) == {(1, clock.now)}


def test_each_tick_adds_one_record_per_metric(kraken, clock):
    async def three_ticks(poller: Poller) -> None:
        for price in (100.0, 101.0, 102.0):
            kraken.prices.set("BTC/USD", price, 5.0)
            await poller.tick()
            clock.advance(60)

    with_poller(kraken, clock, three_ticks)

    assert stored()[("BTC/USD", "price")] == [100.0, 101.0, 102.0]
    assert kraken.request_count("Ticker") == 3


def test_a_symbol_the_exchange_does_not_list_fails_seeding_by_name(kraken, clock, caplog):
    async def body(poller: Poller) -> Poller:
        poller.on_fatal = asyncio.Event()
        await poller.tick()
        assert poller.on_fatal.is_set()
        return poller

    poller = with_poller(kraken, clock, body, symbols=("BTC/USD", "NOPE/USD", "FOO/EUR"))

    assert str(poller.fatal) == "kraken does not list NOPE/USD, FOO/EUR"
    assert "NOPE/USD, FOO/EUR" in caplog.text
    assert not Pair.objects.exists()
    assert kraken.request_count("Ticker") == 0


FAILURES = [
    pytest.param({"mode": "http_error", "status": 503}, "ExchangeUnavailable", id="http-503"),
    pytest.param({"mode": "http_error", "status": 500}, "ExchangeUnavailable", id="http-500"),
    pytest.param(
        {"mode": "html", "status": 502}, "ExchangeUnavailable", id="html-maintenance-page"
    ),
    pytest.param({"mode": "garbage"}, "BadResponse", id="not-json"),
    pytest.param({"mode": "truncated"}, "BadResponse", id="truncated-json"),
    pytest.param(
        {"mode": "error_body", "message": "EService:Unavailable"},
        "ExchangeUnavailable",
        id="error-body-unavailable",
    ),
    pytest.param(
        {"mode": "error_body", "message": "EService:Busy"},
        "ExchangeUnavailable",
        id="error-body-busy",
    ),
    pytest.param({"mode": "rate_limit"}, "RateLimited", id="rate-limit-429"),
    pytest.param(
        {"mode": "error_body", "message": "EAPI:Rate limit exceeded"},
        "RateLimited",
        id="rate-limit-body",
    ),
    pytest.param({"mode": "delay", "delay": 3.0}, "ExchangeUnavailable", id="timeout"),
]


@pytest.mark.parametrize(("misbehaviour", "reason"), FAILURES)
def test_a_failing_exchange_is_logged_backed_off_and_recovered_from(
    kraken, clock, caplog, misbehaviour, reason
):
    caplog.set_level(logging.INFO, logger="tracker")

    async def body(poller: Poller) -> None:
        assert await poller.tick() is not None  # seeded and polled once
        clock.advance(60)
        kraken.misbehave(method="Ticker", **misbehaviour)
        assert await poller.tick() is None
        assert poller.failures == 1
        assert poller.retry_at is not None and poller.retry_at > clock.now

        kraken.behave()
        clock.advance((poller.retry_at - clock.now).total_seconds())
        result = await poller.tick()
        assert result is not None and result.stored == 15
        assert poller.failures == 0

    with_poller(kraken, clock, body)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # The documented class itself, not a prefix of it: "(ExchangeUnavailable: ...".
    assert any(f"poll of kraken failed ({reason}: " in w for w in warnings), warnings
    assert "kraken is back after 1 failed polls" in caplog.text
    assert all(len(values) == 2 for values in stored().values())


def test_backoff_waits_longer_after_each_failure_without_calling_the_exchange(kraken, clock):
    async def body(poller: Poller) -> list[float]:
        await poller.tick()
        kraken.misbehave("http_error", method="Ticker", status=503)
        pauses = []
        for _ in range(4):
            await poller.tick()
            assert poller.retry_at is not None
            pause = (poller.retry_at - clock.now).total_seconds()
            pauses.append(pause)
            asked = kraken.request_count("Ticker")
            clock.advance(pause / 2)
            await poller.tick()  # still backing off: the exchange is left alone
            assert kraken.request_count("Ticker") == asked
            clock.advance(pause / 2)
        return pauses

    pauses = with_poller(kraken, clock, body)

    for failures, pause in enumerate(pauses, start=1):
        ceiling = min(60, 10 * 2 ** (failures - 1))
        assert ceiling / 2 <= pause <= ceiling


def test_bad_numbers_are_dropped_per_pair_and_never_stored(kraken, clock, caplog):
    symbols = ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD", "ADA/USD")

    async def body(poller: Poller) -> None:
        await poller.tick()  # seed
        kraken.misbehave("bad_numbers", method="Ticker")
        clock.advance(60)
        await poller.tick()

    with_poller(kraken, clock, body, symbols=symbols)

    spoiled = Record.objects.filter(metric__kind="price", timestamp=clock.now)
    values = list(spoiled.values_list("value", flat=True))
    assert values and all(v > 0 and v == v for v in values)
    rejected = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected a ticker")
    ]
    assert len(rejected) == len(symbols) - len(values)
    assert len(rejected) >= 3


def test_an_exchange_down_at_first_start_is_retried_until_pairs_are_seeded(kraken, clock):
    async def body(poller: Poller) -> None:
        kraken.misbehave("http_error", status=503)
        await poller.tick()
        assert poller.fatal is None and poller.failures == 1
        kraken.behave()
        assert poller.retry_at is not None
        clock.now = poller.retry_at
        assert await poller.tick() is not None

    with_poller(kraken, clock, body)

    assert sorted(Pair.objects.values_list("symbol", flat=True)) == sorted(SYMBOLS)


def ticker_queries(kraken: FakeKraken) -> list[set[str]]:
    """The pair ids named by each Ticker request, in order."""
    return [set(query["pair"].split(",")) for m, query, _ in kraken.requests if m == "Ticker"]


@pytest.mark.parametrize(
    "still_in_markets", [False, True], ids=["gone-from-the-markets", "still-in-the-markets"]
)
def test_a_pair_the_exchange_stops_listing_is_delisted_and_the_others_are_stored(
    kraken, clock, caplog, still_in_markets
):
    symbols = ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "DOGE/USD")

    async def body(poller: Poller) -> datetime:
        assert await poller.tick() is not None  # seeded, every pair stored
        kraken.delist("LTC/USD", still_in_markets=still_in_markets)
        clock.advance(60)
        delisted_at = clock.now
        result = await poller.tick()
        assert result is not None and result.stored == 20  # the four others, in this tick
        assert poller.failures == 0 and poller.retry_at is None
        clock.advance(60)
        result = await poller.tick()
        assert result is not None and result.stored == 20
        return delisted_at

    delisted_at = with_poller(kraken, clock, body, symbols=symbols)

    pair = Pair.objects.get(symbol="LTC/USD")
    assert (pair.status, pair.status_changed_at) == (PairStatus.DELISTED, delisted_at)
    if still_in_markets:
        assert "EQuery:Unknown asset pair" in pair.status_reason
        assert "still list" in pair.status_reason
    else:
        assert pair.status_reason == "kraken no longer lists LTC/USD in its markets"
    records = stored()
    assert len(records[("LTC/USD", "price")]) == 1
    assert all(len(records[(s, "price")]) == 3 for s in symbols if s != "LTC/USD")
    assert "XLTCZUSD" not in ticker_queries(kraken)[-1]  # no longer asked for
    warnings = [r.getMessage() for r in caplog.records if "delisted LTC/USD" in r.getMessage()]
    assert len(warnings) == 1 and pair.status_reason in warnings[0]


@pytest.mark.parametrize("still_in_markets", [True, False], ids=["refused", "gone-from-markets"])
def test_an_exchange_refusing_every_pair_is_an_outage_not_a_delisting(
    kraken, clock, caplog, still_in_markets
):
    """During maintenance an exchange may refuse or unlist everything at once: delisting every
    pair would stop the tracker for good, so it is backed off like any outage instead."""

    async def body(poller: Poller) -> None:
        assert await poller.tick() is not None
        for symbol in SYMBOLS:
            kraken.delist(symbol, still_in_markets=still_in_markets)
        clock.advance(60)
        assert await poller.tick() is None
        assert poller.failures == 1 and poller.retry_at is not None
        for symbol in SYMBOLS:
            kraken.relist(symbol)
        clock.now = poller.retry_at
        result = await poller.tick()
        assert result is not None and result.stored == 15

    with_poller(kraken, clock, body)

    assert set(Pair.objects.values_list("status", flat=True)) == {PairStatus.ACTIVE}
    assert "ExchangeUnavailable" in caplog.text and "every pair" in caplog.text


def test_a_delisted_pair_made_active_again_is_tried_again(kraken, clock):
    async def body(poller: Poller) -> None:
        await poller.tick()
        kraken.delist("ETH/USD")
        clock.advance(60)
        await poller.tick()
        pair = await Pair.objects.aget(symbol="ETH/USD")
        assert pair.status == PairStatus.DELISTED

        kraken.relist("ETH/USD")
        await sync_to_async(pair_set_active)(pair=pair, active=True, now=clock.now)
        clock.advance(60)
        result = await poller.tick()
        assert result is not None and result.stored == 15

    with_poller(kraken, clock, body)

    assert Pair.objects.get(symbol="ETH/USD").status == PairStatus.ACTIVE
    assert len(stored()[("ETH/USD", "price")]) == 2


def test_a_paused_pair_is_no_longer_asked_for_nor_stored(kraken, clock):
    async def body(poller: Poller) -> None:
        await poller.tick()
        pair = await Pair.objects.aget(symbol="ETH/USD")
        await sync_to_async(pair_set_active)(pair=pair, active=False, now=clock.now)
        clock.advance(60)
        result = await poller.tick()
        assert result is not None and result.stored == 10

    with_poller(kraken, clock, body)

    first, second = ticker_queries(kraken)
    assert "XETHZUSD" in first
    assert second == first - {"XETHZUSD"}
    assert len(stored()[("ETH/USD", "price")]) == 1
    assert Pair.objects.get(symbol="ETH/USD").status == PairStatus.PAUSED
