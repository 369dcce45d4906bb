"""A metric's page: its figures rendered, the chart's ranges and the CSV link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create, records_add

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_metric_and_its_last_value(client):
    metric = metric_create("ETH/USD")
    records_add(metric, [3_000.0, 3_100.25], end=datetime.now(UTC) - timedelta(seconds=3))
    page = client.get(f"/metrics/{metric.id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "ETH/USD" in html and "3,100.25" in html
    assert f"/api/v1/metrics/{metric.id}/buckets.csv" in html


def test_the_ranges_carry_the_bucket_width_the_api_picks(client):
    metric = metric_create()
    html = client.get(f"/metrics/{metric.id}").content.decode()
    opening = '<script id="chart-ranges" type="application/json">'
    start = html.index(opening) + len(opening)
    ranges = json.loads(html[start : html.index("</script>", start)])
    assert ranges == {
        "1h": {"seconds": 3600, "width": 300},
        "24h": {"seconds": 86400, "width": 300},
        "7d": {"seconds": 604800, "width": 3600},
        "30d": {"seconds": 2592000, "width": 3600},
        "1y": {"seconds": 31536000, "width": 86400},
    }


def test_an_unknown_metric_is_a_404_page(client):
    for path in ("/metrics/999999", "/metrics/99999999999999999999999"):
        page = client.get(path)
        assert page.status_code == 404
        assert page["Content-Type"].startswith("text/html")


def test_an_api_path_still_answers_json_errors(client):
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["detail"].startswith("Nothing at")


def test_a_bad_range_falls_back_to_a_day(client):
    metric = metric_create()
    html = client.get(f"/metrics/{metric.id}?range=%F0%9F%92%A5").content.decode()
    assert 'data-range="24h" aria-pressed="true"' in html
