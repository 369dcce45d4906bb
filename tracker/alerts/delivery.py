"""Sending deliveries: claimed atomically, sent through the channel's transport, every attempt
recorded, failures retried with exponential backoff.

A delivery is due when pending and its `next_attempt_at` has come; a resolved notice waits
until the firing notice to the same channel is sent or given up, so the two arrive in order
(a PagerDuty resolve before its trigger would leave the incident open). A sender claims a
delivery just before sending it, by one conditional update (pending -> sending), so two
senders never send it twice; a claim older than `CLAIM_SECONDS` (its sender died mid-send)
may be claimed again, which makes delivery at-least-once. The outcome and its attempt are
written together, only while the claim is still the sender's own.

Sending is three steps so that no database connection is held while a channel is waited for:
`delivery_prepare` reads what the send needs, `delivery_notify` sends (no database),
`delivery_record` writes the outcome. `delivery_send` does all three.

A transport error marked permanent (a 404 from Slack, a refused address) fails the delivery and
marks its channel broken, visibly to its owner, until the owner changes or tests the channel;
deliveries to a broken channel fail at once. Any other error is retried after
`TRACKER_ALERT_RETRY_BASE` x 2^(attempt - 1) seconds (capped at an hour), up to
`TRACKER_ALERT_MAX_ATTEMPTS` attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from tracker.alerts.transports.base import Destination, Notification, TransportError
from tracker.alerts.transports.registry import transport_for
from tracker.common.observability import delivery_count

from .models import Channel, Delivery, DeliveryAttempt, DeliveryState, Notice

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # longer than any transport's timeouts together
RETRY_CAP_SECONDS = 3600
TEXT_MAX = 500


def retry_delay(attempts: int) -> timedelta:
    """How long after the `attempts`-th failed attempt the next one is due."""
    base: float = settings.TRACKER_ALERT_RETRY_BASE
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def deliveries_due(*, now: datetime, limit: int = 100) -> list[tuple[int, int]]:
    """(id, channel id) of the deliveries a sender may claim now, oldest first."""
    stale = now - timedelta(seconds=CLAIM_SECONDS)
    firing_unsent = Delivery.objects.filter(
        event_id=OuterRef("event_id"),
        channel_id=OuterRef("channel_id"),
        notice=Notice.FIRING,
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING],
    )
    return list(
        Delivery.objects.filter(
            Q(state=DeliveryState.PENDING, next_attempt_at__lte=now)
            | Q(state=DeliveryState.SENDING, claimed_at__lt=stale)
        )
        .exclude(Q(notice=Notice.RESOLVED) & Exists(firing_unsent))
        .order_by("next_attempt_at", "id")
        .values_list("id", "channel_id")[:limit]
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


def destination_notify(destination: Destination, notification: Notification) -> str:
    """Send `notification` to `destination` with the configured guard and timeout; raises
    TransportError. What a delivery and a channel test both do."""
    transport = transport_for(
        destination,
        allow_private=settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS,
        timeout=settings.TRACKER_ALERT_TIMEOUT,
    )
    return transport.notify(notification)


def destination_of(channel: Channel) -> Destination:
    return Destination(
        kind=channel.kind,
        url=channel.url or None,
        address=channel.address or None,
        routing_key=channel.routing_key or None,
        secret=channel.secret or None,
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """What sending one claimed delivery needs, read before the send."""

    delivery_id: int
    claimed_at: datetime
    number: int  # this attempt's
    notice: str
    channel_id: int
    channel_kind: str
    broken_reason: str | None  # the channel is broken: nothing is sent
    destination: Destination
    notification: Notification


@dataclass(frozen=True, slots=True)
class Sent:
    """How one attempt went."""

    ok: bool
    response: str = ""
    error: str = ""
    permanent: bool = False


def delivery_prepare(*, delivery_id: int, claimed_at: datetime) -> Prepared:
    delivery = Delivery.objects.select_related(
        "channel", "event__rule", "event__metric__pair__exchange"
    ).get(id=delivery_id)
    channel = delivery.channel
    return Prepared(
        delivery_id=delivery_id,
        claimed_at=claimed_at,
        number=delivery.attempts + 1,
        notice=delivery.notice,
        channel_id=channel.id,
        channel_kind=channel.kind,
        broken_reason=(channel.broken_reason or "broken") if channel.broken_at else None,
        destination=destination_of(channel),
        notification=notification_for(delivery),
    )


def delivery_notify(prepared: Prepared) -> Sent:
    """Send once, through the channel's transport; no database."""
    if prepared.broken_reason is not None:
        return Sent(ok=False, error=f"the channel is broken: {prepared.broken_reason}")
    try:
        return Sent(
            ok=True, response=destination_notify(prepared.destination, prepared.notification)
        )
    except TransportError as failed:
        return Sent(ok=False, error=str(failed), permanent=failed.permanent)
    except Exception as failed:  # a transport's own bug: counted, retried, and logged
        logger.exception(
            "delivery %d: the %s transport failed", prepared.delivery_id, prepared.channel_kind
        )
        return Sent(ok=False, error=f"{type(failed).__name__}: {failed}")


def delivery_record(prepared: Prepared, sent: Sent, *, now: datetime) -> str:
    """Write the attempt and the delivery's state after it, if the claim is still ours; the
    state."""
    next_retry: datetime | None = None
    if sent.ok:
        state = DeliveryState.SENT
    elif (
        sent.permanent
        or prepared.broken_reason is not None
        or prepared.number >= settings.TRACKER_ALERT_MAX_ATTEMPTS
    ):
        state = DeliveryState.FAILED  # for good, or out of attempts
    else:
        state = DeliveryState.PENDING
        next_retry = now + retry_delay(prepared.number)
    with transaction.atomic():
        ours = Delivery.objects.filter(
            id=prepared.delivery_id, state=DeliveryState.SENDING, claimed_at=prepared.claimed_at
        ).update(
            state=state,
            attempts=prepared.number,
            next_attempt_at=next_retry,
            sent_at=now if sent.ok else None,
            last_error=sent.error[:TEXT_MAX],
        )
        if ours:
            DeliveryAttempt.objects.create(
                delivery_id=prepared.delivery_id,
                number=prepared.number,
                at=now,
                ok=sent.ok,
                response=sent.response[:TEXT_MAX],
                error=sent.error[:TEXT_MAX],
                next_retry_at=next_retry,
            )
        if sent.permanent:
            Channel.objects.filter(id=prepared.channel_id, broken_at__isnull=True).update(
                broken_at=now, broken_reason=sent.error[:TEXT_MAX]
            )
    delivery_count(
        prepared.channel_kind,
        "sent" if sent.ok else "retry" if state == DeliveryState.PENDING else "failed",
    )
    log = logger.info if sent.ok else logger.warning
    log(
        "delivery %d (%s to %s channel %d), attempt %d: %s%s",
        prepared.delivery_id,
        prepared.notice,
        prepared.channel_kind,
        prepared.channel_id,
        prepared.number,
        state,
        f" ({sent.error})" if sent.error else "",
    )
    return str(state)


def delivery_send(*, delivery_id: int, claimed_at: datetime, now: datetime) -> str:
    """Send a claimed delivery once and record the attempt; its state afterwards."""
    prepared = delivery_prepare(delivery_id=delivery_id, claimed_at=claimed_at)
    return delivery_record(prepared, delivery_notify(prepared), now=now)
