"""Writes for alerts: a user's channels and rules, and a channel's test notification."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from tracker.alerts.transports.base import Notification, TransportError

from .delivery import destination_notify, destination_of
from .models import AlertRule, Channel

# Changing any of these makes a broken channel worth trying again.
DESTINATION_FIELDS = ("kind", "url", "address", "routing_key", "secret")


def channel_create(*, owner: Any, fields: dict[str, Any]) -> Channel:
    return Channel.objects.create(owner=owner, **fields)


def channel_update(*, channel: Channel, fields: dict[str, Any]) -> Channel:
    """Change the given fields only (a sender may be marking the channel broken meanwhile); a
    new destination clears the broken mark."""
    for name, value in fields.items():
        setattr(channel, name, value)
    changed = list(fields)
    if any(name in DESTINATION_FIELDS for name in fields):
        channel.broken_at, channel.broken_reason = None, ""
        changed += ["broken_at", "broken_reason"]
    if changed:
        channel.save(update_fields=changed)
    return channel


def channel_delete(*, channel: Channel) -> None:
    channel.delete()


@dataclass(frozen=True, slots=True)
class TestOutcome:
    ok: bool
    response: str
    error: str
    permanent: bool


def channel_test(*, channel: Channel, now: datetime) -> TestOutcome:
    """Send a test notification now. Success clears the broken mark; a permanent failure sets
    it, as a real delivery's would."""
    notification = Notification(
        status="test",
        rule_id=None,
        rule_name="Test notification",
        metric_id=None,
        pair="BTC/USD",
        metric="price",
        exchange="kraken",
        value=None,
        average=None,
        factor=None,
        direction=None,
        window=None,
        fired_at=now,
        resolved_at=None,
    )
    try:
        response = destination_notify(destination_of(channel), notification)
    except TransportError as failed:
        if failed.permanent:
            Channel.objects.filter(id=channel.id).update(
                broken_at=now, broken_reason=str(failed)[:500]
            )
        return TestOutcome(ok=False, response="", error=str(failed), permanent=failed.permanent)
    Channel.objects.filter(id=channel.id).update(broken_at=None, broken_reason="")
    return TestOutcome(ok=True, response=response, error="", permanent=False)


@transaction.atomic
def rule_create(
    *,
    owner: Any,
    fields: dict[str, Any],
    metrics: Iterable[Any] = (),
    channels: Iterable[Channel] = (),
) -> AlertRule:
    rule = AlertRule.objects.create(owner=owner, **fields)
    rule.metrics.set(list(metrics))
    rule.channels.set(list(channels))
    return rule  # one transaction: evaluators see it whole, metrics and channels included


@transaction.atomic
def rule_update(
    *,
    rule: AlertRule,
    fields: dict[str, Any],
    metrics: Iterable[Any] | None = None,
    channels: Iterable[Channel] | None = None,
) -> AlertRule:
    for name, value in fields.items():
        setattr(rule, name, value)
    if metrics is not None:
        rule.metrics.set(list(metrics))
    if channels is not None:
        rule.channels.set(list(channels))
    rule.save()  # stamps changed_at, for metrics and channels too
    return rule


def rule_delete(*, rule: AlertRule) -> None:
    rule.delete()
