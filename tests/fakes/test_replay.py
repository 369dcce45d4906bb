"""Replayed prices follow the recording, compressed in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.replay import ReplayPrices

CSV = Path(__file__).resolve().parents[2] / "data" / "btc-usd-1h.csv"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replay() -> tuple[ReplayPrices, Clock]:
    clock = Clock()
    return ReplayPrices(CSV, speed=3600, clock=clock), clock


def test_btc_replays_the_recorded_closes(replay):
    prices, clock = replay
    assert prices.quote("BTC/USD")[0] == 2509.17  # first candle's close in the recording
    clock.now += 1  # one recorded hour later
    assert prices.quote("BTC/USD")[0] == 2488.43
    clock.now += 0.5  # half way to the next close
    assert prices.quote("BTC/USD")[0] == pytest.approx((2488.43 + 2454.43) / 2)


def test_volume_is_the_sum_of_the_last_24_candles(replay):
    prices, clock = replay
    clock.now += 30
    _, volume = prices.quote("BTC/USD")
    rows = CSV.read_text().splitlines()[1:]
    expected = sum(float(row.split(",")[5]) for row in rows[7:31])
    assert volume == pytest.approx(expected)


def test_pairs_move_differently_at_their_own_levels(replay):
    prices, _ = replay
    quotes = {s: prices.quote(s)[0] for s in ("BTC/USD", "ETH/USD", "DOGE/USD")}
    assert 0.01 < quotes["DOGE/USD"] < 1
    assert 100 < quotes["ETH/USD"] < 20000
    assert len(set(quotes.values())) == 3
