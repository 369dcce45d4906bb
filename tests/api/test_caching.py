"""Cached answers: ETag and Last-Modified, 304s, and never stale after an ingest or a move of
a sliding window. The API's clock is stopped (the `clock` fixture) and moved by the tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils.http import http_date
from rest_framework.test import APIClient

from tests.factories import metric_create, records_add
from tracker.markets.models import MetricKind
from tracker.markets.services import Sample, ranks_refresh, records_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def metric(clock):
    metric = metric_create()
    records_add(metric, [1.0, 2.0, 3.0], end=clock.now - timedelta(seconds=5))
    return metric


def _untouchable(monkeypatch) -> None:
    """From now on, computing a record or rank answer fails the test."""

    def touched(*args, **kwargs):
        raise AssertionError("the answer was computed again")

    monkeypatch.setattr("tracker.api.records._history_answer", touched)
    monkeypatch.setattr("tracker.api.views._detail_data", touched)


@pytest.mark.parametrize("suffix", ["", "/records"])
def test_answers_carry_validators_and_a_max_age_of_one_interval(api, metric, settings, suffix):
    settings.TRACKER_FETCH_INTERVAL = 60
    response = api.get(f"/api/v1/metrics/{metric.id}{suffix}")
    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"]
    assert response["Cache-Control"] == "public, max-age=60"


# The version is one query: the metric's row, joined to its rank snapshot's for the detail.
@pytest.mark.parametrize(("suffix", "queries"), [("", 1), ("/records", 1)])
def test_if_none_match_gets_a_304_without_reading_the_data(
    api, metric, suffix, queries, monkeypatch, django_assert_max_num_queries
):
    path = f"/api/v1/metrics/{metric.id}{suffix}"
    etag = api.get(path)["ETag"]
    api.get(path)  # and a cache hit
    _untouchable(monkeypatch)
    with django_assert_max_num_queries(queries):
        again = api.get(path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


@pytest.mark.parametrize("suffix", ["", "/records"])
def test_new_data_changes_the_etag(api, metric, suffix, clock):
    path = f"/api/v1/metrics/{metric.id}{suffix}"
    etag = api.get(path)["ETag"]
    records_ingest(samples=[Sample(metric.id, clock.now - timedelta(seconds=1), 10.0)])
    fresh = api.get(path, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag


def test_a_tick_of_one_metric_changes_its_own_answers_and_its_kinds_ranks_only(
    api, metric, clock, monkeypatch
):
    other = metric_create("ETH/USD")
    records_add(other, [5.0, 6.0], end=clock.now - timedelta(seconds=5))
    volume = metric_create("ETH/USD", kind=MetricKind.VOLUME)
    paths = {
        "own records": f"/api/v1/metrics/{metric.id}/records",
        "own buckets": f"/api/v1/metrics/{metric.id}/buckets",
        "own CSV": f"/api/v1/metrics/{metric.id}/records.csv",
        "own rank": f"/api/v1/metrics/{metric.id}",
        "rank of the same kind": f"/api/v1/metrics/{other.id}",
        "other records": f"/api/v1/metrics/{other.id}/records",
        "other buckets": f"/api/v1/metrics/{other.id}/buckets",
        "other CSV": f"/api/v1/metrics/{other.id}/records.csv",
        "rank of another kind": f"/api/v1/metrics/{volume.id}",
    }
    ranks_refresh(kinds=[MetricKind.PRICE, MetricKind.VOLUME], now=clock.now)
    before = {name: api.get(path) for name, path in paths.items()}

    records_ingest(samples=[Sample(metric.id, clock.now - timedelta(seconds=1), 10.0)])
    # What the runtime does after it, a moment later.
    ranks_refresh(kinds=[MetricKind.PRICE], now=clock.now + timedelta(seconds=1))

    changed = {
        name
        for name, path in paths.items()
        if api.get(path, HTTP_IF_NONE_MATCH=before[name]["ETag"]).status_code == 200
    }
    assert changed == {"own records", "own buckets", "own CSV", "own rank", "rank of the same kind"}
    _untouchable(monkeypatch)
    for name in ("other records", "other CSV", "rank of another kind"):
        unchanged = api.get(paths[name], HTTP_IF_MODIFIED_SINCE=before[name]["Last-Modified"])
        assert unchanged.status_code == 304, name


def test_a_new_tick_is_visible_at_once(api, metric, clock):
    path = f"/api/v1/metrics/{metric.id}/records"
    assert [r["value"] for r in api.get(path).json()] == [1.0, 2.0, 3.0]
    records_ingest(samples=[Sample(metric.id, clock.now - timedelta(seconds=1), 4.0)])
    assert [r["value"] for r in api.get(path).json()] == [1.0, 2.0, 3.0, 4.0]


def test_if_modified_since(api, metric, clock, monkeypatch):
    path = f"/api/v1/metrics/{metric.id}/records"
    last_modified = api.get(path)["Last-Modified"]
    _untouchable(monkeypatch)
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    older = http_date((clock.now - timedelta(hours=1)).timestamp())
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=older).status_code == 200


@pytest.mark.parametrize("suffix", ["/records?range=1h", "/records", ""])
def test_a_sliding_window_that_moved_on_is_not_a_304(api, metric, clock, suffix):
    path = f"/api/v1/metrics/{metric.id}{suffix}"
    first = api.get(path)
    clock.advance(timedelta(hours=25))  # every record fell out of the window; no data arrived
    ranks_refresh(kinds=[metric.kind], now=clock.now)  # a rank moves on with its refresh
    for headers in (
        {"HTTP_IF_MODIFIED_SINCE": first["Last-Modified"]},
        {"HTTP_IF_NONE_MATCH": first["ETag"]},
    ):
        moved = api.get(path, **headers)
        assert moved.status_code == 200
        assert moved["ETag"] != first["ETag"]
        assert moved["Last-Modified"] != first["Last-Modified"]
    body = api.get(path).json()
    assert body == [] if suffix.startswith("/records") else body["records_24h"] == 0


def test_a_fixed_window_stays_valid_as_time_passes(api, metric, clock, monkeypatch):
    until = (clock.now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    path = f"/api/v1/metrics/{metric.id}/records?range=24h&until={until}"
    first = api.get(path)
    clock.advance(timedelta(hours=3))
    _untouchable(monkeypatch)
    assert api.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    assert api.get(path).content == first.content


def test_a_repeated_request_is_served_from_the_cache(
    api, metric, monkeypatch, django_assert_max_num_queries
):
    path = f"/api/v1/metrics/{metric.id}/buckets?interval=1m"
    first = api.get(path)
    _untouchable(monkeypatch)
    with django_assert_max_num_queries(1):  # the metric, with its version; no records
        second = api.get(path)
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


def test_the_cache_moves_on_with_the_slot(api, metric, clock, settings):
    settings.TRACKER_FETCH_INTERVAL = 60
    path = f"/api/v1/metrics/{metric.id}/records"
    first = api.get(path)
    clock.advance(timedelta(seconds=60))
    assert api.get(path)["ETag"] != first["ETag"]


def test_formats_are_cached_apart(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    as_json = api.get(path)
    as_csv = api.get(path + "?format=csv")
    assert as_json["Content-Type"] == "application/json"
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_json["ETag"] != as_csv["ETag"]


def test_hosts_and_schemes_are_cached_apart(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records?limit=1"
    first = api.get(path, HTTP_HOST="127.0.0.1")
    other = api.get(path, HTTP_HOST="localhost")
    secure = api.get(path, HTTP_HOST="localhost", secure=True)
    assert first["Link"].startswith("<http://127.0.0.1/api/v1/metrics/")
    assert other["Link"].startswith("<http://localhost/api/v1/metrics/")
    assert secure["Link"].startswith("<https://localhost/api/v1/metrics/")
    assert len({first["ETag"], other["ETag"], secure["ETag"]}) == 3


def test_failed_permission_is_not_bypassed_by_the_cache(api, metric, settings):
    path = f"/api/v1/metrics/{metric.id}/records"
    assert api.get(path).status_code == 200
    settings.TRACKER_PUBLIC_READ = False
    assert api.get(path).status_code == 401


# --- answered before DRF: anonymous requests for what is kept ----------------------------------

KEPT_PATHS = ["/api/v1/metrics/{id}", "/api/v1/metrics/{id}/records", "/api/v1/metrics"]


@pytest.mark.parametrize("template", KEPT_PATHS)
def test_a_kept_answer_is_the_computed_one_with_the_same_headers(api, metric, template):
    path = template.format(id=metric.id)
    computed = api.get(path)
    kept = api.get(path)
    assert kept.content == computed.content
    # Every answer has its own request id; everything else is the same.
    assert kept["X-Request-ID"] != computed["X-Request-ID"]
    del kept["X-Request-ID"], computed["X-Request-ID"]
    assert dict(kept.headers) == dict(computed.headers)
    assert kept["Allow"] == "GET, HEAD, OPTIONS"
    assert "Accept" in kept["Vary"] and "Authorization" in kept["Vary"]


@pytest.mark.parametrize("template", KEPT_PATHS)
def test_a_kept_answer_costs_one_query_and_no_computing(
    api, metric, template, monkeypatch, django_assert_num_queries
):
    path = template.format(id=metric.id)
    first = api.get(path)
    _untouchable(monkeypatch)
    monkeypatch.setattr("tracker.api.metrics._answer", lambda *a, **k: pytest.fail("computed"))
    with django_assert_num_queries(1):  # the version
        assert api.get(path).content == first.content


def test_a_kept_answer_is_throttled_like_any_other(api, metric, throttle_rates):
    throttle_rates(anon="3/min")
    path = f"/api/v1/metrics/{metric.id}/records"
    codes = [api.get(path, REMOTE_ADDR="10.1.1.1").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert api.get(path, REMOTE_ADDR="10.1.1.2").status_code == 200


def test_credentials_are_checked_even_when_the_answer_is_kept(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    assert api.get(path).status_code == 200
    refused = api.get(path, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert refused.status_code == 401
    assert refused.json()["detail"]


def test_a_kept_answer_is_not_served_in_another_format(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    api.get(path)
    assert api.get(path, {"format": "csv"})["Content-Type"].startswith("text/csv")
    assert api.get(path, {"format": "xml"}).status_code == 400
    assert api.get(path, HTTP_ACCEPT="text/csv")["Content-Type"].startswith("text/csv")


@pytest.fixture
def a_day_of_seconds(clock):
    metric = metric_create()
    values = [float(i) for i in range(1200)]
    records_add(metric, values, end=clock.now - timedelta(seconds=1), step=timedelta(seconds=1))
    return metric


def test_the_browsable_api_renders_one_page_of_at_most_500(api, a_day_of_seconds):
    response = api.get(f"/api/v1/metrics/{a_day_of_seconds.id}/records", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert html.count("&quot;value&quot;") == 500
    assert 'rel="next"' in response["Link"]
    assert "cursor=" in html  # the next page's URL is shown
    json_answer = api.get(f"/api/v1/metrics/{a_day_of_seconds.id}/records")
    assert len(json_answer.json()) == 1200  # JSON keeps its own page size


def test_the_browsable_api_caches_the_data_and_renders_each_page(
    api, a_day_of_seconds, alice, monkeypatch
):
    path = f"/api/v1/metrics/{a_day_of_seconds.id}/records"
    api.get(path, HTTP_ACCEPT="text/html")
    _untouchable(monkeypatch)  # from here on, the records come from the cache
    browser = APIClient()
    browser.force_login(alice)
    as_alice = browser.get(path, HTTP_ACCEPT="text/html")
    first, second = APIClient(), APIClient()  # two visitors without cookies
    pages = [first.get(path, HTTP_ACCEPT="text/html"), second.get(path, HTTP_ACCEPT="text/html")]
    assert b"alice" in as_alice.content
    assert all(b"alice" not in page.content for page in pages)
    tokens = [first.cookies["csrftoken"].value, second.cookies["csrftoken"].value]
    assert tokens[0] != tokens[1]  # each visitor gets a token of their own, not a shared one
