"""/metrics in process: what a scrape reads and who may read it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import metric_create, records_add
from tracker.common.clock import utc_now
from tracker.common.observability import task_outcome_count
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


@pytest.mark.django_db
def test_without_a_token_the_metrics_follow_public_read(client, settings):
    settings.TRACKER_METRICS_TOKEN = ""
    settings.TRACKER_PUBLIC_READ = False
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert b"TRACKER_METRICS_TOKEN" in refused.content
    settings.TRACKER_PUBLIC_READ = True
    assert client.get("/metrics").status_code == 200
