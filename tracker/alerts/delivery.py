"""Sending deliveries: claimed atomically, sent through the channel's transport, every attempt
recorded, failures retried with exponential backoff.

A delivery is due when pending and its `next_attempt_at` has come. A sender claims it by one
conditional update (pending -> sending), so two senders never send it twice; a claim older
than `CLAIM_SECONDS` (its sender died mid-send) may be claimed again, which makes delivery
at-least-once. The outcome is written only while the claim is still the sender's own.

A transport error marked permanent (a 404 from Slack, a refused address) fails the delivery and
marks its channel broken, visibly to its owner, until the owner changes or tests the channel;
deliveries to a broken channel fail at once. Any other error is retried after
`TRACKER_ALERT_RETRY_BASE` x 2^(attempt - 1) seconds (capped at an hour), up to
`TRACKER_ALERT_MAX_ATTEMPTS` attempts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from tracker.alerts.transports.base import Destination, Notification, TransportError
from tracker.alerts.transports.registry import transport_for

from .models import Channel, Delivery, DeliveryAttempt, DeliveryState, Notice

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # longer than any transport's timeouts together
RETRY_CAP_SECONDS = 3600
TEXT_MAX = 500


def retry_delay(attempts: int) -> timedelta:
    """How long after the `attempts`-th failed attempt the next one is due."""
    base: float = settings.TRACKER_ALERT_RETRY_BASE
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def deliveries_due(*, now: datetime, limit: int = 100) -> list[int]:
    """Ids of the deliveries a sender may claim now, oldest first."""
    stale = now - timedelta(seconds=CLAIM_SECONDS)
    return list(
        Delivery.objects.filter(
            Q(state=DeliveryState.PENDING, next_attempt_at__lte=now)
            | Q(state=DeliveryState.SENDING, claimed_at__lt=stale)
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def delivery_claim(*, delivery_id: int, now: datetime) -> datetime | None:
    """Claim a due delivery for sending; the claim's time, or None if it is not ours to send."""
    stale = now - timedelta(seconds=CLAIM_SECONDS)
    claimed = Delivery.objects.filter(
        Q(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        | Q(state=DeliveryState.SENDING, claimed_at__lt=stale),
        id=delivery_id,
    ).update(state=DeliveryState.SENDING, claimed_at=now)
    return now if claimed == 1 else None


def notification_for(delivery: Delivery) -> Notification:
    event = delivery.event
    metric = event.metric
    resolved = delivery.notice == Notice.RESOLVED
    return Notification(
        status="resolved" if resolved else "firing",
        rule_id=event.rule_id,
        rule_name=event.rule.name,
        metric_id=metric.id,
        pair=metric.pair.symbol,
        metric=metric.kind,
        exchange=metric.pair.exchange.name,
        value=event.resolved_value if resolved else event.value,
        average=event.average,
        factor=event.factor,
        direction=event.direction,
        window=window_text(event.window_seconds),
        fired_at=event.fired_at,
        resolved_at=event.resolved_at if resolved else None,
    )


def window_text(seconds: int) -> str:
    """`3600` -> `1h`: the largest unit that divides the length."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def destination_of(channel: Channel) -> Destination:
    return Destination(
        kind=channel.kind,
        url=channel.url or None,
        address=channel.address or None,
        routing_key=channel.routing_key or None,
        secret=channel.secret or None,
    )


def delivery_send(*, delivery_id: int, claimed_at: datetime, now: datetime) -> str:
    """Send a claimed delivery once and record the attempt; its state afterwards."""
    delivery = Delivery.objects.select_related(
        "channel", "event__rule", "event__metric__pair__exchange"
    ).get(id=delivery_id)
    channel = delivery.channel
    number = delivery.attempts + 1
    response = error = ""
    next_retry: datetime | None = None
    if channel.broken_at is not None:
        state, error = DeliveryState.FAILED, f"the channel is broken: {channel.broken_reason}"
    else:
        try:
            transport = transport_for(
                destination_of(channel),
                allow_private=settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS,
                timeout=settings.TRACKER_ALERT_TIMEOUT,
            )
            response = transport.notify(notification_for(delivery))
            state = DeliveryState.SENT
        except TransportError as failed:
            error = str(failed)
            if failed.permanent:
                state = DeliveryState.FAILED
                Channel.objects.filter(id=channel.id, broken_at__isnull=True).update(
                    broken_at=now, broken_reason=error[:TEXT_MAX]
                )
            elif number >= settings.TRACKER_ALERT_MAX_ATTEMPTS:
                state = DeliveryState.FAILED
            else:
                state = DeliveryState.PENDING
                next_retry = now + retry_delay(number)
    ours = Delivery.objects.filter(
        id=delivery_id, state=DeliveryState.SENDING, claimed_at=claimed_at
    ).update(
        state=state,
        attempts=number,
        next_attempt_at=next_retry,
        sent_at=now if state == DeliveryState.SENT else None,
        last_error=error[:TEXT_MAX],
    )
    if ours:
        DeliveryAttempt.objects.create(
            delivery_id=delivery_id,
            number=number,
            at=now,
            ok=state == DeliveryState.SENT,
            response=response[:TEXT_MAX],
            error=error[:TEXT_MAX],
            next_retry_at=next_retry,
        )
    log = logger.info if state == DeliveryState.SENT else logger.warning
    log(
        "delivery %d (%s to %s channel %d), attempt %d: %s%s",
        delivery_id,
        delivery.notice,
        channel.kind,
        channel.id,
        number,
        state,
        f" ({error})" if error else "",
    )
    return str(state)
