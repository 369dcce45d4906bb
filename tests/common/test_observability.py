"""/metrics, /healthz and JSON log lines, in process: what a scrape reads and who may read it."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import metric_create, records_add
from tracker.common import health
from tracker.common.clock import utc_now
from tracker.common.logs import JsonFormatter, request_id_var
from tracker.common.observability import request_id_accept, task_outcome_count
from tracker.markets.models import Exchange
from tracker.markets.services import ranks_refresh


def samples(text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


@pytest.mark.django_db
def test_metrics_parse_and_carry_the_tracked_values(django_capture_on_commit_callbacks):
    metric = metric_create("ETH/USD")
    with django_capture_on_commit_callbacks(execute=True):  # the "records ingested" event
        records_add(metric, [100.0, 102.0, 98.0, 101.0], end=utc_now())
    ranks_refresh(kinds=[metric.kind], now=utc_now())
    task_outcome_count("tracker.ingest.tasks.poll", "success")
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response.content.decode())
    labels = {"exchange": "kraken", "pair": "ETH/USD", "kind": "price"}
    (value,) = [s for s in found["tracker_metric_value"] if s.labels == labels]
    assert value.value == 101.0
    (rank,) = [s for s in found["tracker_metric_rank"] if s.labels == labels]
    assert rank.value == 1
    assert any(s.labels == labels for s in found["tracker_metric_stddev_24h"])
    assert found["tracker_database_up"][0].value == 1
    assert any(
        s.labels["view"] == "/healthz" and s.labels["status"] == "200"
        for s in found["tracker_http_requests_total"]
    )
    assert any(s.labels["exchange"] == "kraken" for s in found["tracker_records_ingested_total"])
    assert any(
        s.labels == {"task": "tracker.ingest.tasks.poll", "outcome": "success"}
        for s in found["tracker_task_outcomes_total"]
    )


@pytest.mark.once
def test_metrics_token(settings):
    settings.TRACKER_METRICS_TOKEN = "s3cret-token"
    client = Client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    refused = client.get("/metrics")
    assert refused["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_metrics_token_accepted(settings):
    settings.TRACKER_METRICS_TOKEN = "s3cret-token"
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200


@pytest.mark.once
def test_healthz_answers_on_any_host_and_echoes_a_sane_request_id():
    response = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz", HTTP_X_REQUEST_ID="probe-1")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert response["X-Request-ID"] == "probe-1"


@pytest.mark.once
def test_request_ids():
    assert request_id_accept("abc-DEF_1.2") == "abc-DEF_1.2"
    for bad in (None, "", "x" * 65, "a b", "new\nline", "<script>"):
        fresh = request_id_accept(bad)
        assert len(fresh) == 32 and fresh != bad


@pytest.mark.once
def test_json_lines():
    formatter = JsonFormatter()
    token = request_id_var.set("req-42")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.LogRecord(
                "tracker.x", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info()
            )
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "tracker.x"
    assert data["message"] == "failed once" and data["request_id"] == "req-42"
    assert "ValueError: boom" in data["exception"]
    assert data["time"].endswith("+00:00")
    plain = json.loads(formatter.format(logging.makeLogRecord({"msg": "hi"})))
    assert "request_id" not in plain and "task_id" not in plain


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
def test_celery_broker_unreachable(settings):
    settings.TRACKER_SCHEDULER = "celery"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    result = health._broker()
    assert result["status"] == "error"


@pytest.mark.django_db
def test_without_a_token_the_metrics_follow_public_read(client, settings):
    settings.TRACKER_METRICS_TOKEN = ""
    settings.TRACKER_PUBLIC_READ = False
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert b"TRACKER_METRICS_TOKEN" in refused.content
    settings.TRACKER_PUBLIC_READ = True
    assert client.get("/metrics").status_code == 200
