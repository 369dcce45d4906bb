"""A notification's JSON (the webhook body) and its one-line summary for people."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from tests.alerts.samples import FIRING


def test_times_are_utc_with_a_z() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    notification = replace(
        FIRING,
        fired_at=datetime(2024, 3, 1, 12, 0, 5, tzinfo=two_hours_east),
        resolved_at=datetime(2024, 3, 1, 10, 30, 0, 250_000, tzinfo=UTC),
    )
    body = notification.as_json()
    assert body["fired_at"] == "2024-03-01T10:00:05Z"
    assert body["resolved_at"] == "2024-03-01T10:30:00.250000Z"


def test_the_json_has_exactly_the_documented_keys() -> None:
    body = FIRING.as_json()
    assert set(body) == {
        "status", "rule", "metric", "value", "average", "factor", "direction", "window",
        "fired_at", "resolved_at",
    }  # fmt: skip
    assert set(body["rule"]) == {"id", "name"}
    assert set(body["metric"]) == {"id", "pair", "metric", "exchange"}


def test_summary_above() -> None:
    assert FIRING.summary() == (
        "BTC/USD price on kraken is 3.4x its 1h average (68,340 > 3 x 20,100)"
    )
    resolved = replace(FIRING, status="resolved")
    assert resolved.summary() == "BTC/USD price on kraken is back within 3x its 1h average"


def test_summary_below_reads_either_way_of_writing_the_factor() -> None:
    low = replace(FIRING, direction="below", value=6_000.0)
    assert low.summary() == "BTC/USD price on kraken is 0.3x its 1h average (6,000 < 20,100 / 3)"
    assert replace(low, factor=0.5).summary() == (
        "BTC/USD price on kraken is 0.3x its 1h average (6,000 < 0.5 x 20,100)"
    )
    assert replace(low, status="resolved").summary() == (
        "BTC/USD price on kraken is back above 1/3 of its 1h average"
    )


def test_summary_of_a_test_and_of_missing_numbers() -> None:
    test = replace(FIRING, status="test", rule_id=None, value=None, fired_at=None)
    assert "Test notification" in test.summary()
    assert "BTC spike" in test.summary()
    bare = replace(FIRING, average=None, factor=None, value=0.081)
    assert bare.summary() == "BTC/USD price on kraken crossed its alert threshold at 0.081"
