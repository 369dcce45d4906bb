"""Reads for alerts, always scoped to one owner: another user's objects do not exist here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from .models import AlertEvent, AlertRule, Channel, Delivery


def channels_of(*, owner: Any) -> QuerySet[Channel]:
    return Channel.objects.filter(owner=owner).order_by("id")


def rules_of(*, owner: Any) -> QuerySet[AlertRule]:
    return (
        AlertRule.objects.filter(owner=owner).prefetch_related("metrics", "channels").order_by("id")
    )


def events_page(
    *,
    owner: Any,
    rule_id: int | None,
    metric_id: int | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> tuple[list[AlertEvent], tuple[datetime, int] | None]:
    """The owner's alert events, newest first, with their deliveries; and where the next page
    starts (the last event's (fired_at, id)), or None on the last page."""
    events = AlertEvent.objects.filter(rule__owner=owner)
    if rule_id is not None:
        events = events.filter(rule_id=rule_id)
    if metric_id is not None:
        events = events.filter(metric_id=metric_id)
    if since is not None:
        events = events.filter(fired_at__gte=since)
    if until is not None:
        events = events.filter(fired_at__lt=until)
    if before is not None:
        at, event_id = before
        events = events.filter(fired_at__lt=at) | events.filter(fired_at=at, id__lt=event_id)
    rows = list(
        events.select_related("rule", "metric__pair__exchange")
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("id")))
        .order_by("-fired_at", "-id")[: limit + 1]
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1].fired_at, rows[-1].id)
