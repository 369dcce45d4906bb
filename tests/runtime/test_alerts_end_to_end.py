"""A spike on the stand-in exchange reaches the user's webhook, once, and so does its end.

The tracker polls every second; its user has a webhook channel (a local receiver) and a rule on
every price. The price of BTC/USD jumps to four times its level for several ticks, then comes
back: the receiver gets one "firing" notice while the spike lasts and one "resolved" after it.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.fakes.receiver import Receiver
from tests.process import ManagedProcess, manage
from tests.runtime.celery_stack import ALERT_SETUP
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # its tracker has a SQLite file of its own


def _btc_prices(env: dict[str, str]) -> list[float]:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return [
            value
            for (value,) in db.execute(
                "SELECT r.value FROM markets_record r JOIN markets_metric m ON m.id = r.metric_id "
                "JOIN markets_pair p ON p.id = m.pair_id "
                "WHERE p.symbol = 'BTC/USD' AND m.kind = 'price' ORDER BY r.timestamp"
            )
        ]


def test_a_spike_is_told_once_and_its_end_too(env, kraken):
    env = {**env, "TRACKER_ALLOW_PRIVATE_WEBHOOKS": "true", "TRACKER_ALERT_POLL": "0.2"}
    with Receiver("webhook") as hook:
        created = manage("shell", "-c", ALERT_SETUP % (hook.url + "/alerts"), env=env)
        assert created.returncode == 0, created.stderr
        with ManagedProcess("runscheduler", env=env) as tracker:
            wait_until(lambda: len(_btc_prices(env)) >= 5, timeout=30, what="five calm ticks")
            calm = _btc_prices(env)[-1]
            kraken.prices.set("BTC/USD", calm * 4)
            spiked = len(_btc_prices(env))
            wait_until(
                lambda: len(_btc_prices(env)) >= spiked + 3, timeout=30, what="three spiked ticks"
            )
            kraken.prices.set("BTC/USD", calm)
            (firing, resolved) = hook.wait_for(2, timeout=30)
            assert tracker.stop() == 0
        assert firing.json()["status"] == "firing"
        assert firing.json()["metric"]["pair"] == "BTC/USD"
        assert firing.json()["value"] == pytest.approx(calm * 4)
        assert firing.json()["average"] == pytest.approx(calm)
        assert resolved.json()["status"] == "resolved"
        assert len(hook.requests) == 2  # one episode, one alert, one resolution
