"""Exchange payloads become typed values; bad numbers never get through."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracker.exchanges import BadResponse, Ticker

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
