"""Exchange payloads become typed values; bad numbers never get through."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracker.exchanges import BadResponse, Candle, Ticker

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_ticker_keeps_good_numbers_and_normalises_time_to_utc():
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    ticker = Ticker.build(symbol="BTC/USD", timestamp=local, last="42284.6", base_volume="1414.5")
    assert ticker.last == 42284.6
    assert ticker.base_volume == 1414.5
    assert ticker.timestamp == NOW
    assert ticker.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        ("NaN", "not finite"),
        (float("inf"), "not finite"),
        ("abc", "not a number"),
        (None, "not a number"),
        ("0", "must be positive"),
        (-5, "must be positive"),
    ],
)
def test_ticker_rejects_unusable_prices(last, reason):
    with pytest.raises(BadResponse, match=reason):
        Ticker.build(symbol="BTC/USD", timestamp=NOW, last=last, base_volume=1.0)


def test_zero_volume_is_allowed_but_negative_volume_is_not():
    assert Ticker.build(symbol="X/USD", timestamp=NOW, last=1, base_volume=0).base_volume == 0
    with pytest.raises(BadResponse, match="must not be negative"):
        Ticker.build(symbol="X/USD", timestamp=NOW, last=1, base_volume=-1)


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Ticker.build(symbol="X/USD", timestamp=datetime(2024, 1, 1), last=1, base_volume=1)


def test_bid_and_ask_are_validated_like_the_last_price():
    ticker = Ticker.build(
        symbol="BTC/USD", timestamp=NOW, last=100, base_volume=1, bid="99.5", ask="100.5"
    )
    assert (ticker.bid, ticker.ask) == (99.5, 100.5)
    for field in ("bid", "ask"):
        with pytest.raises(BadResponse, match=f"{field} must be positive"):
            Ticker.build(symbol="BTC/USD", timestamp=NOW, last=1, base_volume=1, **{field: 0})
        with pytest.raises(BadResponse, match=f"{field} is not finite"):
            Ticker.build(symbol="BTC/USD", timestamp=NOW, last=1, base_volume=1, **{field: "NaN"})


def test_an_exchange_without_quotes_leaves_bid_and_ask_empty():
    ticker = Ticker.build(symbol="BTC/USD", timestamp=NOW, last=100, base_volume=1)
    assert ticker.bid is None and ticker.ask is None


CANDLE = {"open": "100", "high": "110", "low": "95", "close": "105", "volume": "12.5"}


def test_candle_keeps_good_numbers_and_its_open_time_in_utc():
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    candle = Candle.build(symbol="BTC/USD", opened_at=local, **CANDLE)
    assert candle.opened_at == NOW and candle.opened_at.utcoffset() == timedelta(0)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        100.0,
        110.0,
        95.0,
        105.0,
        12.5,
    )
    with pytest.raises(AttributeError):
        candle.close = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("field", ["open", "high", "low", "close"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [("NaN", "not finite"), ("-inf", "not finite"), ("x", "not a number"), ("0", "positive")],
)
def test_candle_rejects_unusable_prices(field, value, reason):
    with pytest.raises(BadResponse, match=f"candle {field} .*{reason}"):
        Candle.build(symbol="BTC/USD", opened_at=NOW, **{**CANDLE, field: value})


def test_candle_volume_may_be_zero_but_not_negative_nor_naive_in_time():
    assert Candle.build(symbol="X/USD", opened_at=NOW, **{**CANDLE, "volume": 0}).volume == 0
    with pytest.raises(BadResponse, match="candle volume must not be negative"):
        Candle.build(symbol="X/USD", opened_at=NOW, **{**CANDLE, "volume": -1})
    with pytest.raises(ValueError, match="timezone-aware"):
        Candle.build(symbol="X/USD", opened_at=datetime(2024, 1, 1), **CANDLE)
