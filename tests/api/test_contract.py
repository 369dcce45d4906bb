"""The seed's three curl examples, replayed against `manage.py runtracker` serving over HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.process import ManagedProcess, free_port, manage, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


@pytest.fixture
def tracker(tmp_path, kraken):
    port = free_port()
    env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_PAIRS="BTC/USD,ETH/USD")
    assert manage("migrate", "--no-input", env=env).returncode == 0
    with ManagedProcess("runtracker", "--port", str(port), env=env) as process:
        base = f"http://127.0.0.1:{port}/api/v1"

        def answering() -> bool:
            try:
                return httpx.get(f"{base}/", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answering, timeout=30, what="the API to answer")
        yield base, process
        assert process.stop() == 0


def test_the_three_curl_examples(tracker, kraken):
    base, _ = tracker
    kraken.prices.set("BTC/USD", 42284.6, 1200.0)

    metrics = wait_until(
        lambda: httpx.get(f"{base}/metrics").json(), timeout=20, what="the pairs to be seeded"
    )
    kinds = ["price", "volume", "bid", "ask", "spread"]
    assert [(m["pair"], m["metric"]) for m in metrics] == [
        (pair, kind) for pair in ("BTC/USD", "ETH/USD") for kind in kinds
    ]
    assert all(set(m) >= {"id", "pair", "metric"} and isinstance(m["id"], int) for m in metrics)
    btc_price = metrics[0]["id"]

    records_url = f"{base}/metrics/{btc_price}/records"

    def two_records() -> list[dict[str, Any]]:
        records = httpx.get(records_url).json()
        return records if len(records) >= 2 and records[-1]["value"] == 42284.6 else []

    records = wait_until(two_records, timeout=20, what="two records, the last at the new price")
    assert all(set(r) == {"timestamp", "value"} and ISO_UTC.match(r["timestamp"]) for r in records)
    assert [r["timestamp"] for r in records] == sorted(r["timestamp"] for r in records)
    assert records[-1]["value"] == 42284.6

    def ranked() -> dict[str, Any]:  # refreshed after the ingest, off the tick
        detail = httpx.get(f"{base}/metrics/{btc_price}").json()
        return detail if detail["records_24h"] >= 2 else {}

    detail = wait_until(ranked, timeout=20, what="the rank refreshed after two records")
    assert detail["id"] == btc_price and detail["pair"] == "BTC/USD" and detail["metric"] == "price"
    assert detail["rank_of"] >= 1 and detail["rank"] in range(1, detail["rank_of"] + 1)
    assert isinstance(detail["stddev"], float)
    assert ISO_UTC.match(detail["ranked_at"])


def test_errors_over_http_are_json(tracker):
    base, _ = tracker
    for path in ("/metrics/424242", "/metrics/424242/records", "/no-such-thing"):
        response = httpx.get(base + path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json()["detail"]


def test_the_api_keeps_serving_while_the_exchange_is_down(tracker, kraken):
    base, process = tracker
    wait_until(lambda: httpx.get(f"{base}/metrics").json(), timeout=20, what="seeding")
    kraken.misbehave("http_error", method="Ticker", status=503)
    kraken.wait_for_requests("Ticker", kraken.request_count("Ticker") + 1, timeout=20)
    assert httpx.get(f"{base}/metrics").status_code == 200
    wait_until(
        lambda: "poll of kraken failed" in process.output, timeout=10, what="the failure logged"
    )


def test_swagger_ui_and_its_assets_are_served_locally(tracker):
    base, _ = tracker
    page = httpx.get(f"{base}/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert assets
    origin = base.removesuffix("/api/v1")
    for asset in assets:
        assert httpx.get(origin + asset).status_code == 200, asset
