"""One operation per answer type: raw records, buckets, and each as CSV; paged by X-Next-Cursor."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.test_records import T0, iso, series  # noqa: F401  (a fixture)
from tests.factories import metric_create, records_add

pytestmark = pytest.mark.django_db
WINDOW = {"since": iso(T0), "until": iso(T0 + timedelta(minutes=10))}


def test_records_with_a_bucket_interval_redirect_to_buckets(api, series):  # noqa: F811
    metric, _ = series
    response = api.get(f"/api/v1/metrics/{metric.id}/records?range=7d&interval=1h")
    assert response.status_code == 308
    assert response["Location"] == (
        f"http://testserver/api/v1/metrics/{metric.id}/buckets?range=7d&interval=1h"
    )


def test_records_take_interval_raw_and_refuse_anything_else(api, series):  # noqa: F811
    metric, values = series
    raw = api.get(f"/api/v1/metrics/{metric.id}/records", {**WINDOW, "interval": "raw"})
    assert [r["value"] for r in raw.json()] == values[1:21]
    for interval in ("", "1x"):
        refused = api.get(f"/api/v1/metrics/{metric.id}/records", {"interval": interval})
        assert refused.status_code == 400
        assert list(refused.json()) == ["interval"]


def test_buckets_refuse_raw(api, series):  # noqa: F811
    metric, _ = series
    response = api.get(f"/api/v1/metrics/{metric.id}/buckets", {"interval": "raw"})
    assert response.status_code == 400
    assert response.json() == {
        "interval": ["Expected one of auto, 1m, 5m, 15m, 1h, 4h, 1d; got 'raw'."]
    }


def test_buckets_default_to_auto(api, series):  # noqa: F811
    metric, _ = series
    response = api.get(f"/api/v1/metrics/{metric.id}/buckets", WINDOW)
    assert [b["timestamp"] for b in response.json()] == [
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:05:00Z",
    ]


@pytest.mark.parametrize(
    ("path", "params", "items"),
    [
        ("records", {}, 20),
        ("buckets", {"interval": "1m"}, 10),
        ("records.csv", {}, 20),
        ("buckets.csv", {"interval": "1m"}, 10),
    ],
)
def test_x_next_cursor_pages_to_the_end(api, series, path, params, items):  # noqa: F811
    metric, _ = series
    query = {**WINDOW, **params, "limit": 3}
    rows, cursor, pages = [], None, 0
    while True:
        response = api.get(
            f"/api/v1/metrics/{metric.id}/{path}", {**query, "cursor": cursor} if cursor else query
        )
        assert response.status_code == 200, response.content
        body = response.content.decode()
        page = body.splitlines()[1:] if path.endswith(".csv") else response.json()
        rows += page
        pages += 1
        cursor = response.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response
            break
        link = response["Link"]
        assert parse_qs(urlsplit(link[1 : link.index(">")]).query)["cursor"] == [cursor]
    assert len(rows) == items
    assert pages == -(-items // 3)


def test_csv_operations_answer_csv(api, series):  # noqa: F811
    metric, values = series
    records = api.get(f"/api/v1/metrics/{metric.id}/records.csv", {**WINDOW, "limit": 1})
    assert records["Content-Type"] == "text/csv; charset=utf-8"
    assert records.content.decode().splitlines() == [
        "timestamp,value",
        f"2024-03-01T10:00:30Z,{values[1]}",
    ]
    buckets = api.get(f"/api/v1/metrics/{metric.id}/buckets.csv", WINDOW)
    assert buckets.content.decode().splitlines()[0] == "timestamp,open,high,low,close,average,count"
    failed = api.get(f"/api/v1/metrics/{metric.id}/records.csv", {"limit": "0"})
    assert (failed.status_code, failed["Content-Type"]) == (400, "application/json")


@pytest.mark.parametrize("window", [{"range": "1h"}, {"since": "SINCE"}, {}])
def test_a_window_ending_now_pages_by_cursor_with_the_first_parameters(api, clock, window):
    """The cursor carries the end the first page pinned, so the same parameters plus the cursor
    lead on, however long the client takes between pages."""
    metric = metric_create()
    records_add(metric, [float(i) for i in range(7)], end=clock.now - timedelta(minutes=1))
    if "since" in window:
        window = {"since": iso(clock.now - timedelta(minutes=30))}
    values, cursor = [], None
    while True:
        response = api.get(
            f"/api/v1/metrics/{metric.id}/records",
            {**window, "limit": 2, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.content
        values += [r["value"] for r in response.json()]
        clock.advance(timedelta(minutes=3))  # the window moves on between pages
        cursor = response.get("X-Next-Cursor")
        if cursor is None:
            break
    assert values == [float(i) for i in range(7)]
