"""/readyz in process: a check that hangs, checks left out, and a broker that does not answer."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from tracker.markets.models import Exchange
from tracker.monitoring import health


@pytest.mark.once
def test_a_hanging_check_times_out_within_the_deadline(monkeypatch):
    def hanging() -> dict[str, object]:
        time.sleep(1.5)
        return {"status": "ok"}

    monkeypatch.setattr(health, "_cache", hanging)
    fine = {"database": {"status": "ok"}, "exchanges": {"status": "ok"}}
    monkeypatch.setattr(health, "_database_and_exchanges", lambda **_: fine)
    started = time.monotonic()
    ready, checks = health.readiness_check(deadline=0.3)
    assert time.monotonic() - started < 1.0
    assert not ready
    assert checks["cache"]["status"] == "timeout"
    assert checks["broker"]["status"] == "not used"


@pytest.mark.django_db(transaction=True)  # the checks read the database from their own threads
def test_readyz_leaves_out_the_checks_it_is_asked_to_exclude():
    """A stale exchange fails /readyz, as a monitor should see, but not the pods' probe."""
    Exchange.objects.create(name="kraken", interval=60)  # never polled: stale
    client = Client()
    whole = client.get("/readyz")
    assert whole.status_code == 503
    assert whole.json()["failing"] == ["exchanges"]
    probe = client.get("/readyz?exclude=exchanges")
    assert probe.status_code == 200, probe.json()
    assert probe.json()["status"] == "ready" and probe.json()["excluded"] == ["exchanges"]
    assert set(probe.json()["checks"]) == {"database", "cache", "broker"}
    fewer = client.get("/readyz?exclude=exchanges&exclude=cache")
    assert fewer.status_code == 200
    assert set(fewer.json()["checks"]) == {"database", "broker"}


@pytest.mark.once
def test_readyz_refuses_to_exclude_a_check_it_does_not_have():
    response = Client().get("/readyz?exclude=exchanges&exclude=etcd")
    assert response.status_code == 400
    body = response.json()
    assert "etcd" in body["detail"]
    assert body["checks"] == ["database", "exchanges", "cache", "broker"]
    assert all(name in body["detail"] for name in body["checks"])


@pytest.mark.once
@pytest.mark.parametrize(
    "query",
    [
        "exclude=" + "x" * 100_000,  # echoed back shortened, not whole
        "exclude=",
        "exclude=%FF%FE",
        "exclude=%00",
        "&".join(["exclude=cache"] * 5_000),  # more fields than Django reads
    ],
    ids=["huge", "empty", "not-utf8", "nul", "too-many"],
)
def test_readyz_answers_absurd_excludes_with_a_short_json_400(query):
    response = Client().get(f"/readyz?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert len(response.content) < 1000
    assert response.json()["checks"] == ["database", "exchanges", "cache", "broker"]


@pytest.mark.once
def test_celery_broker_unreachable(settings):
    settings.TRACKER_SCHEDULER = "celery"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    result = health._broker()
    assert result["status"] == "error"
