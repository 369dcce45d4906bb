"""A notification to send in transport and notification tests: a firing alert on BTC/USD."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.alerts.transports.base import Notification

FIRING = Notification(
    status="firing",
    rule_id=7,
    rule_name="BTC spike",
    metric_id=42,
    pair="BTC/USD",
    metric="price",
    exchange="kraken",
    value=68_340.0,
    average=20_100.0,
    factor=3.0,
    direction="above",
    window="1h",
    fired_at=datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC),
    resolved_at=None,
)
