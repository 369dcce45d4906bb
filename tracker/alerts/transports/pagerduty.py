"""PagerDuty Events API v2: a firing rule triggers an incident, its resolution resolves it.

Both carry the same dedup key, one per rule and metric, so PagerDuty folds repeats into one
incident and the resolve closes the incident the trigger opened. PagerDuty answers 202 when
it accepted an event, 400 to an event it will never accept (a bad routing key), 429 when
it wants fewer events.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from tracker.alerts.transports.base import (
    Notification,
    Transport,
    TransportError,
    describe,
    iso_utc,
)
from tracker.common.clock import utc_now

SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries


def dedup_key(notification: Notification) -> str:
    if notification.status == "test":
        return f"tracker-test-rule{notification.rule_id}-metric{notification.metric_id}"
    return f"tracker-rule{notification.rule_id}-metric{notification.metric_id}"


def pagerduty_event(notification: Notification, routing_key: str) -> dict[str, Any]:
    key = dedup_key(notification)
    if notification.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": notification.summary()[:SUMMARY_LIMIT],
            "source": "crypto-tracker",
            "severity": "warning",
            "timestamp": iso_utc(notification.fired_at or utc_now()),
            "custom_details": notification.as_json(),
        },
    }


class PagerDutyTransport(Transport):
    def notify(self, notification: Notification) -> str:
        if not self.destination.routing_key:
            raise TransportError("the PagerDuty destination has no routing key", permanent=True)
        response = self.post_json(
            settings.TRACKER_PAGERDUTY_URL,
            pagerduty_event(notification, self.destination.routing_key),
            service="PagerDuty",
        )
        return describe(response)
