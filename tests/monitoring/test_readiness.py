"""/readyz tells the truth about a live `runtracker`: ready while everything answers, 503 naming
the check when Redis is cut, when the exchange stops answering and when the database goes away;
/metrics of the same process parses and counts what it did; its JSON log lines carry the
request id the response's X-Request-ID names.

Redis and PostgreSQL are reached through a relay a test can cut (tests.fakes.tcp_proxy); on
SQLite the directory holding the database file goes away and comes back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.kraken import FakeKraken
from tests.fakes.tcp_proxy import TcpProxy
from tests.postgres import database_url, scratch_database, server_address
from tests.process import manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until

TOKEN = "metrics-token-for-tests"
REDIS = ("127.0.0.1", 6379)


def ready(server: TrackerServer) -> httpx.Response:
    return httpx.get(server.url + "/readyz", timeout=10)


def failing(server: TrackerServer, check: str) -> dict[str, object] | None:
    """The /readyz body once it is a 503 naming `check`, else None."""
    response = ready(server)
    body = response.json()
    if response.status_code == 503 and check in body["failing"]:
        return dict(body)
    return None


def scrape(server: TrackerServer) -> dict[str, list[Any]]:
    response = httpx.get(
        server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


@pytest.mark.slow
@pytest.mark.once
def test_readyz_follows_redis_the_exchange_and_the_database(tmp_path: Path, kraken: FakeKraken):
    folder = tmp_path / "db"
    folder.mkdir()
    with TcpProxy(REDIS) as redis_relay:
        env = tracker_env(
            tmp_path,
            DATABASE_URL=f"sqlite:///{folder / 'tracker.sqlite3'}",
            DATABASE_TIMEOUT="1",
            REDIS_URL=f"redis://127.0.0.1:{redis_relay.port}/11",
            TRACKER_CACHE_PREFIX=f"readyz-{tmp_path.name}",
            TRACKER_STREAM_CHANNEL=f"readyz-{tmp_path.name}",
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD",
            TRACKER_METRICS_TOKEN=TOKEN,
            TRACKER_LOG_FORMAT="json",
        )
        migrated = manage("migrate", "--no-input", env=env)
        assert migrated.returncode == 0, migrated.stderr
        with TrackerServer(env=env) as server:
            health = httpx.get(server.url + "/healthz", timeout=10)
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            wait_until(
                lambda: ready(server).status_code == 200, timeout=30, what="ready after a poll"
            )
            body = ready(server).json()
            assert {name: c["status"] for name, c in body["checks"].items()} == {
                "database": "ok",
                "exchanges": "ok",
                "cache": "ok",
                "broker": "not used",
            }

            # /metrics: behind the token; parses; counts what this process did.
            assert httpx.get(server.url + "/metrics", timeout=10).status_code == 401
            found = scrape(server)
            assert any(s.labels["view"] == "/readyz" for s in found["tracker_http_requests_total"])
            (ingested,) = found["tracker_records_ingested_total"]
            assert ingested.labels == {"exchange": "kraken"} and ingested.value > 0
            (age,) = found["tracker_exchange_last_poll_age_seconds"]
            assert age.labels == {"exchange": "kraken"} and 0 <= age.value < 10
            price = {"exchange": "kraken", "pair": "BTC/USD", "kind": "price"}
            assert any(s.labels == price for s in found["tracker_metric_value"])
            assert any(s.labels["outcome"] == "ok" for s in found["tracker_polls_total"])

            # Redis cut: the cache check fails, within the probe's deadline.
            redis_relay.cut()
            down = wait_until(lambda: failing(server, "cache"), timeout=10, what="cache failing")
            assert down["checks"]["cache"]["status"] in ("error", "timeout")  # type: ignore[index]
            redis_relay.restore()
            wait_until(lambda: ready(server).status_code == 200, timeout=15, what="Redis back")

            # The exchange answers errors: stale once three intervals pass without a good poll.
            kraken.misbehave("http_error")
            stale = wait_until(
                lambda: failing(server, "exchanges"), timeout=15, what="the exchange stale"
            )
            assert "kraken" in stale["checks"]["exchanges"]["detail"]  # type: ignore[index]
            kraken.behave()
            wait_until(lambda: ready(server).status_code == 200, timeout=15, what="fresh again")

            # The database's directory goes away: the database check fails, named.
            away = tmp_path / "db-away"
            folder.rename(away)
            try:
                probe = httpx.get(
                    server.url + "/readyz", headers={"X-Request-ID": "probe-db-1"}, timeout=10
                )
            finally:
                away.rename(folder)
            assert probe.status_code == 503, probe.text
            assert probe.headers["X-Request-ID"] == "probe-db-1"
            assert "database" in probe.json()["failing"]
            assert probe.elapsed.total_seconds() < 3
            wait_until(lambda: ready(server).status_code == 200, timeout=15, what="database back")

    # JSON log lines: every line one object; the failed probe's warning names its request id.
    lines = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    assert any(
        line.get("request_id") == "probe-db-1" and "not ready" in line["message"] for line in lines
    )


@pytest.mark.slow
@pytest.mark.postgresql
def test_readyz_on_postgresql_unreachable(tmp_path: Path, kraken: FakeKraken):
    with scratch_database("readyz") as name, TcpProxy(server_address()) as relay:
        env = tracker_env(
            tmp_path,
            DATABASE_URL=database_url(name, host="127.0.0.1", port=relay.port),
            DATABASE_TIMEOUT="1",
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD",
        )
        migrated = manage("migrate", "--no-input", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        with TrackerServer(env=env) as server:
            wait_until(lambda: ready(server).status_code == 200, timeout=30, what="ready")
            relay.cut()
            down = wait_until(lambda: failing(server, "database"), timeout=10, what="db failing")
            assert down["checks"]["exchanges"]["status"] == "unknown"  # type: ignore[index]
            relay.restore()
            wait_until(lambda: ready(server).status_code == 200, timeout=30, what="database back")
