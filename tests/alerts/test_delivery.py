"""Deliveries to a local receiver over real sockets: retried with backoff until they succeed,
given up on a permanent failure (which marks the channel broken), claimed once.

The clock is injected: each attempt is made at the time the previous one scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from tests.factories import metric_create
from tests.fakes.receiver import Receiver
from tracker.alerts import services
from tracker.alerts.delivery import (
    CLAIM_SECONDS,
    deliveries_due,
    delivery_claim,
    delivery_send,
)
from tracker.alerts.models import AlertEvent, Channel, Delivery, DeliveryState, Notice

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _private_receivers(settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True  # the receivers listen on 127.0.0.1
    settings.TRACKER_ALERT_RETRY_BASE = 10.0
    settings.TRACKER_ALERT_MAX_ATTEMPTS = 4


@pytest.fixture
def receiver():
    with Receiver("webhook") as running:
        yield running


def delivery_to(url: str, kind: str = "webhook") -> Delivery:
    owner, _ = User.objects.get_or_create(username="frank")
    channel = services.channel_create(
        owner=owner, fields={"name": kind, "kind": kind, "url": url, "secret": "k"}
    )
    metric = metric_create()
    rule = services.rule_create(owner=owner, fields={"name": "spike"}, metrics=[metric])
    event = AlertEvent.objects.create(
        rule=rule,
        metric=metric,
        value=310.0,
        average=100.0,
        factor=3.0,
        direction="above",
        window_seconds=3600,
        fired_at=NOW,
    )
    return Delivery.objects.create(
        event=event, channel=channel, notice=Notice.FIRING, next_attempt_at=NOW, created_at=NOW
    )


def attempt(delivery: Delivery, at: datetime) -> str:
    claimed = delivery_claim(delivery_id=delivery.id, now=at)
    assert claimed is not None, "the delivery was not due"
    return delivery_send(delivery_id=delivery.id, claimed_at=claimed, now=at)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(receiver):
    receiver.fail(2, status=500)
    delivery = delivery_to(receiver.url + "/hook")
    assert attempt(delivery, NOW) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == NOW + timedelta(seconds=10)
    assert deliveries_due(now=NOW + timedelta(seconds=9)) == []
    assert attempt(delivery, NOW + timedelta(seconds=10)) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == NOW + timedelta(seconds=30)  # 10 s, then 20 s
    assert attempt(delivery, NOW + timedelta(seconds=30)) == DeliveryState.SENT
    assert len(receiver.wait_for(3)) == 3
    log = list(delivery.attempt_log.values_list("number", "ok", "next_retry_at"))
    assert log == [
        (1, False, NOW + timedelta(seconds=10)),
        (2, False, NOW + timedelta(seconds=30)),
        (3, True, None),
    ]
    assert "500" in delivery.attempt_log.get(number=1).error


def test_a_timeout_is_retried(receiver, settings):
    settings.TRACKER_ALERT_TIMEOUT = 0.3
    receiver.delay(1.0, times=1)
    delivery = delivery_to(receiver.url + "/hook")
    assert attempt(delivery, NOW) == DeliveryState.PENDING
    assert "timed out" in delivery.attempt_log.get().error.lower()
    assert attempt(delivery, NOW + timedelta(seconds=10)) == DeliveryState.SENT


def test_a_permanent_failure_marks_the_channel_broken_and_stops_sending():
    with Receiver("slack") as slack:
        slack.answer(404, b"no_service")
        delivery = delivery_to(slack.url + "/services/T/B/X", kind="slack")
        assert attempt(delivery, NOW) == DeliveryState.FAILED
        channel = Channel.objects.get(id=delivery.channel_id)
        assert channel.broken_at == NOW
        assert "no_service" in channel.broken_reason
        again = Delivery.objects.create(
            event=delivery.event,
            channel=channel,
            notice=Notice.RESOLVED,
            next_attempt_at=NOW,
            created_at=NOW,
        )
        assert attempt(again, NOW + timedelta(minutes=1)) == DeliveryState.FAILED
        assert len(slack.requests) == 1  # the broken channel was not called again


def test_it_gives_up_after_the_last_attempt(receiver):
    receiver.answer(503)
    delivery = delivery_to(receiver.url + "/hook")
    at = NOW
    for _ in range(3):
        assert attempt(delivery, at) == DeliveryState.PENDING
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        at = delivery.next_attempt_at
    assert attempt(delivery, at) == DeliveryState.FAILED
    assert Channel.objects.get(id=delivery.channel_id).broken_at is None  # only unlucky
    assert delivery.attempt_log.count() == 4


def test_a_redirect_is_not_followed(receiver):
    with Receiver("webhook") as elsewhere:
        receiver.redirect(elsewhere.url + "/stolen")
        delivery = delivery_to(receiver.url + "/hook")
        assert attempt(delivery, NOW) != DeliveryState.SENT
        assert elsewhere.requests == []


def test_a_delivery_is_claimed_once(receiver):
    delivery = delivery_to(receiver.url + "/hook")
    assert delivery_claim(delivery_id=delivery.id, now=NOW) == NOW
    assert delivery_claim(delivery_id=delivery.id, now=NOW) is None
    assert deliveries_due(now=NOW) == []
    # A sender that died holding the claim: after CLAIM_SECONDS another may send it.
    later = NOW + timedelta(seconds=CLAIM_SECONDS + 1)
    assert deliveries_due(now=later) == [(delivery.id, delivery.channel_id)]
    assert delivery_claim(delivery_id=delivery.id, now=later) == later
    # The first sender's late outcome is not recorded over the second's claim.
    assert delivery_send(delivery_id=delivery.id, claimed_at=NOW, now=later) == "sent"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENDING, 0)


def test_the_webhook_body_and_signature(receiver):
    import hashlib
    import hmac

    delivery = delivery_to(receiver.url + "/hook")
    assert attempt(delivery, NOW) == DeliveryState.SENT
    (request,) = receiver.wait_for(1)
    expected = hmac.new(b"k", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-tracker-signature"] == f"sha256={expected}"
    body = request.json()
    assert body["status"] == "firing"
    assert body["metric"] == {
        "id": delivery.event.metric_id,
        "pair": "BTC/USD",
        "metric": "price",
        "exchange": "kraken",
    }
    assert (body["value"], body["average"], body["factor"], body["window"]) == (
        310.0,
        100.0,
        3.0,
        "1h",
    )


def test_a_resolved_notice_waits_for_its_firing_notice(receiver):
    receiver.fail(1, status=500)
    firing = delivery_to(receiver.url + "/hook")
    resolved = Delivery.objects.create(
        event=firing.event,
        channel=firing.channel,
        notice=Notice.RESOLVED,
        next_attempt_at=NOW,
        created_at=NOW,
    )
    assert deliveries_due(now=NOW) == [(firing.id, firing.channel_id)]
    assert attempt(firing, NOW) == DeliveryState.PENDING  # the 500: retried in 10 s
    assert deliveries_due(now=NOW + timedelta(seconds=5)) == []  # the resolve waits for it
    assert attempt(firing, NOW + timedelta(seconds=10)) == DeliveryState.SENT
    assert deliveries_due(now=NOW + timedelta(seconds=11)) == [(resolved.id, firing.channel_id)]
    assert attempt(resolved, NOW + timedelta(seconds=11)) == DeliveryState.SENT
    statuses = [request.json()["status"] for request in receiver.wait_for(3)]
    assert statuses == ["firing", "firing", "resolved"]


def test_a_transport_that_fails_unexpectedly_counts_as_an_attempt(receiver, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("tracker.alerts.transports.webhook.WebhookTransport.notify", broken)
    delivery = delivery_to(receiver.url + "/hook")
    assert attempt(delivery, NOW) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.next_attempt_at) == (1, NOW + timedelta(seconds=10))
    assert "KeyError" in delivery.last_error
