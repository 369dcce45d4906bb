"""The alert worker in the tracker's loop: an ingest does not wait for alerts, and a slow
channel does not hold up another.

Two channels on one rule: one answers at once, the other only after two seconds. A spike is
ingested for real (its event reaches the worker after the commit); the ingest returns before
either channel is called, the fast channel has its alert while the slow one is still
answering, and both are recorded as sent.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from tests.factories import metric_create
from tests.fakes.receiver import Receiver
from tracker.alerts import services
from tracker.alerts.models import Delivery, DeliveryState
from tracker.common.clock import utc_now
from tracker.markets.services import Sample, records_ingest
from tracker.runtime.alerts import AlertWorker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_slow_channel_holds_up_neither_the_ingest_nor_the_other_channel(settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    with Receiver("webhook") as fast, Receiver("webhook") as slow:
        slow.delay(2.0)
        owner = User.objects.create_user("heidi")
        channels = [
            services.channel_create(
                owner=owner, fields={"name": name, "kind": "webhook", "url": hook.url + "/a"}
            )
            for name, hook in (("fast", fast), ("slow", slow))
        ]
        metric = metric_create()
        services.rule_create(
            owner=owner,
            fields={"name": "spike", "window_seconds": 600, "min_samples": 3},
            metrics=[metric],
            channels=channels,
        )
        now = utc_now()
        calm = [Sample(metric.id, now - timedelta(seconds=60 - 10 * i), 100.0) for i in range(5)]
        records_ingest(samples=calm, now=now)

        async def scenario() -> list[dict[str, str]]:
            worker = AlertWorker(poll=0.1, senders=4)
            worker.start()
            seen = []
            try:
                await sync_to_async(records_ingest)(
                    samples=[Sample(metric.id, utc_now(), 500.0)], now=utc_now()
                )
                seen.append(await sync_to_async(_states)())  # the ingest is back
                await _until(lambda: _states().get("fast") == DeliveryState.SENT)
                seen.append(await sync_to_async(_states)())  # the fast channel has it
                await _until(lambda: set(_states().values()) == {DeliveryState.SENT})
                seen.append(await sync_to_async(_states)())
            finally:
                await worker.close()
            return seen

        back, fast_sent, both_sent = asyncio.run(scenario())
    assert back.get("slow") != DeliveryState.SENT  # the ingest did not wait for the channels
    assert fast_sent["slow"] != DeliveryState.SENT  # nor the fast channel for the slow one
    assert both_sent == {"fast": DeliveryState.SENT, "slow": DeliveryState.SENT}
    assert len(slow.requests) == len(fast.requests) == 1


async def _until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await sync_to_async(condition)():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.05)


def _states() -> dict[str, str]:
    return dict(Delivery.objects.values_list("channel__name", "state"))


def test_an_evaluation_that_fails_does_not_stop_the_next(settings, monkeypatch, caplog):
    from tracker.runtime import alerts as runtime_alerts

    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    real = runtime_alerts.alerts_evaluate
    calls: list[int] = []

    def failing_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one evaluation")
        return real(**kwargs)

    monkeypatch.setattr(runtime_alerts, "alerts_evaluate", failing_once)
    with Receiver("webhook") as hook:
        owner = User.objects.create_user("ivan")
        channel = services.channel_create(
            owner=owner, fields={"name": "hook", "kind": "webhook", "url": hook.url + "/a"}
        )
        metric = metric_create()
        services.rule_create(
            owner=owner,
            fields={"name": "spike", "window_seconds": 600, "min_samples": 3},
            metrics=[metric],
            channels=[channel],
        )
        now = utc_now()
        calm = [Sample(metric.id, now - timedelta(seconds=60 - 10 * i), 100.0) for i in range(5)]
        records_ingest(samples=calm, now=now)

        async def scenario() -> None:
            worker = AlertWorker(poll=0.1)
            worker.start()
            try:
                for value in (100.0, 500.0):  # the first event's evaluation fails
                    await sync_to_async(records_ingest)(
                        samples=[Sample(metric.id, utc_now(), value)], now=utc_now()
                    )
                    await asyncio.sleep(0.05)
                await sync_to_async(hook.wait_for)(1, timeout=10)
            finally:
                await worker.close()

        asyncio.run(scenario())
    assert hook.requests[0].json()["value"] == 500.0
    assert "a bug in one evaluation" in caplog.text
