"""Cached answers: ETag and Last-Modified, 304s, and never stale after an ingest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils.http import http_date

from tests.factories import metric_create, records_add
from tracker.common.clock import utc_now
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def metric():
    metric = metric_create()
    records_add(metric, [1.0, 2.0, 3.0], end=utc_now() - timedelta(seconds=5))
    return metric


@pytest.mark.parametrize("suffix", ["", "/records"])
def test_answers_carry_validators_and_a_max_age_of_one_interval(api, metric, settings, suffix):
    settings.TRACKER_FETCH_INTERVAL = 60
    response = api.get(f"/api/v1/metrics/{metric.id}{suffix}")
    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"]
    assert response["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("suffix", ["", "/records"])
def test_if_none_match_gets_a_304_until_new_data_arrives(api, metric, suffix):
    path = f"/api/v1/metrics/{metric.id}{suffix}"
    first = api.get(path)
    etag = first["ETag"]

    again = api.get(path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""

    records_ingest(samples=[Sample(metric.id, utc_now() - timedelta(seconds=1), 10.0)])
    fresh = api.get(path, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag


def test_a_new_tick_is_visible_at_once(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    assert [r["value"] for r in api.get(path).json()] == [1.0, 2.0, 3.0]
    records_ingest(samples=[Sample(metric.id, utc_now() - timedelta(seconds=1), 4.0)])
    assert [r["value"] for r in api.get(path).json()] == [1.0, 2.0, 3.0, 4.0]


def test_if_modified_since(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    last_modified = api.get(path)["Last-Modified"]
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    older = http_date((utc_now() - timedelta(hours=1)).timestamp())
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=older).status_code == 200


def test_a_repeated_request_is_served_from_the_cache(api, metric, django_assert_max_num_queries):
    path = f"/api/v1/metrics/{metric.id}/records?interval=1m"
    first = api.get(path)
    with django_assert_max_num_queries(2):  # the metric and the data version, no records
        second = api.get(path)
    assert second.content == first.content
    assert (
        second["X-Total-Count" if "X-Total-Count" in first else "ETag"]
        == first["X-Total-Count" if "X-Total-Count" in first else "ETag"]
    )


def test_formats_are_cached_apart(api, metric):
    path = f"/api/v1/metrics/{metric.id}/records"
    as_json = api.get(path)
    as_csv = api.get(path + "?format=csv")
    assert as_json["Content-Type"] == "application/json"
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_json["ETag"] != as_csv["ETag"]


def test_failed_permission_is_not_bypassed_by_the_cache(api, metric, settings):
    path = f"/api/v1/metrics/{metric.id}/records"
    assert api.get(path).status_code == 200
    settings.TRACKER_PUBLIC_READ = False
    assert api.get(path).status_code == 401
