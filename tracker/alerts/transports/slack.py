"""Slack incoming webhooks: the summary as text, and a block with the numbers.

Slack answers errors in plain text with a status: 404 `no_service` (the webhook was removed),
404 `channel_not_found`, 403 `invalid_token`, 410 `channel_is_archived`: all permanent, by the
shared rule for 4xx (base.answer_check). 429 and 5xx are worth another try.
"""

from __future__ import annotations

from typing import Any

from tracker.alerts.transports.base import Notification, Transport, describe, iso_utc, number


def escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters; these three must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification) -> dict[str, Any]:
    summary = escape(notification.summary())
    icon = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}.get(
        notification.status, ":information_source:"
    )
    moment = (
        notification.resolved_at if notification.status == "resolved" else notification.fired_at
    )
    facts = {
        "Value": number(notification.value),
        "Average": number(notification.average),
        "Factor": (
            f"{number(notification.factor)} ({notification.direction})"
            if notification.factor is not None and notification.direction
            else number(notification.factor)
        ),
        "Window": notification.window or "n/a",
        "Time": iso_utc(moment) or "n/a",
    }
    return {
        "text": summary,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {summary}"}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{escape(value)}"}
                    for name, value in facts.items()
                ],
            },
        ],
    }


class SlackTransport(Transport):
    def notify(self, notification: Notification) -> str:
        response = self.post_json(
            self.destination.url, slack_payload(notification), service="Slack"
        )
        return describe(response)
