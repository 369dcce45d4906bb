"""The records endpoint: windows, buckets, pages, CSV, and a 400 for every bad parameter."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import metric_create, records_add
from tracker.common.clock import utc_now
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def url(metric_id: int, **params: object) -> str:
    """Raw records, or buckets when an interval other than raw is given."""
    history = "records" if params.get("interval", "raw") == "raw" else "buckets"
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/metrics/{metric_id}/{history}" + (f"?{query}" if query else "")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def series():
    """A price every 30 seconds from 10:00 to 11:59:30 on 2024-03-01: 240 records."""
    metric = metric_create()
    values = [100 + (i % 17) * 0.5 + i * 0.01 for i in range(240)]
    records_add(metric, values, end=T0 + timedelta(seconds=30 * 239), step=timedelta(seconds=30))
    metric.refresh_from_db()
    return metric, values


def test_since_and_until_accept_iso_8601_and_unix_seconds(api, series):
    metric, values = series
    since, until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    by_iso = api.get(url(metric.id, since=iso(since), until=iso(until))).json()
    by_unix = api.get(
        url(metric.id, since=int(since.timestamp()), until=int(until.timestamp()))
    ).json()
    assert by_iso == by_unix
    assert [r["value"] for r in by_iso] == values[21:41]  # (since, until]
    assert by_iso[0]["timestamp"] == "2024-03-01T10:10:30Z"


def test_range_ends_at_until(api, series):
    metric, values = series
    body = api.get(url(metric.id, range="1h", until=iso(T0 + timedelta(hours=2)))).json()
    assert [r["value"] for r in body] == values[121:]  # (11:00, 12:00]


def test_hourly_buckets_merge_the_minutes_exactly(api, series):
    metric, values = series
    body = api.get(
        url(metric.id, since=iso(T0), until=iso(T0 + timedelta(hours=2)), interval="1h")
    ).json()
    assert [b["timestamp"] for b in body] == ["2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z"]
    for bucket, chunk in zip(body, (values[:120], values[120:]), strict=True):
        assert bucket["open"] == chunk[0]
        assert bucket["close"] == chunk[-1]
        assert (bucket["low"], bucket["high"]) == (min(chunk), max(chunk))
        assert bucket["count"] == 120
        assert bucket["average"] == pytest.approx(statistics.fmean(chunk), rel=1e-12)


def test_buckets_are_aligned_to_utc_starts(api, series):
    metric, _ = series
    body = api.get(
        url(
            metric.id,
            since=iso(T0 + timedelta(minutes=7)),
            until=iso(T0 + timedelta(minutes=31)),
            interval="15m",
        )
    ).json()
    assert [b["timestamp"] for b in body] == [
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:15:00Z",
        "2024-03-01T10:30:00Z",
    ]


@pytest.mark.parametrize(("window", "width"), [("24h", 300), ("30d", 3600), ("1y", 86400)])
def test_auto_picks_coarser_buckets_for_longer_windows(api, series, window, width):
    metric, _ = series
    body = api.get(
        url(metric.id, range=window, until=iso(T0 + timedelta(hours=3)), interval="auto")
    ).json()
    starts = [datetime.fromisoformat(b["timestamp"]).timestamp() for b in body]
    assert starts
    assert all(s % width == 0 for s in starts)
    assert sum(b["count"] for b in body) == 240


def test_raw_pages_follow_the_link_header_and_stay_stable(api, series):
    metric, values = series
    first = api.get(url(metric.id, since=iso(T0), until=iso(T0 + timedelta(minutes=3)), limit=2))
    assert first["X-Total-Count"] == "6"
    pages = [first.json()]
    link = first["Link"]
    # A record arriving meanwhile, after the window, must not shift or extend the pages.
    records_ingest(samples=[Sample(metric.id, T0 + timedelta(hours=5), 1.0)])
    while link:
        assert link.endswith('>; rel="next"')
        response = api.get(link[1 : link.index(">")])
        pages.append(response.json())
        link = response.get("Link")
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [r["value"] for page in pages for r in page] == values[1:7]


def test_bucket_pages(api, series):
    metric, _ = series
    response = api.get(
        url(metric.id, since=iso(T0), until=iso(T0 + timedelta(hours=2)), interval="1h", limit=1)
    )
    assert len(response.json()) == 1
    next_url = response["Link"][1 : response["Link"].index(">")]
    assert parse_qs(urlsplit(next_url).query)["interval"] == ["1h"]
    second = api.get(next_url)
    assert [b["timestamp"] for b in second.json()] == ["2024-03-01T11:00:00Z"]
    assert "Link" not in second


def test_the_plain_request_gets_the_whole_default_window_in_one_array(api):
    metric = metric_create()
    now = utc_now() - timedelta(seconds=1)
    records_add(metric, [float(i) for i in range(1, 1501)], end=now, step=timedelta(seconds=50))
    response = api.get(url(metric.id))
    assert len(response.json()) == 1500
    assert "Link" not in response


@pytest.mark.parametrize("how", ["query", "accept"])
def test_csv_download(api, series, how):
    metric, values = series
    params = {"since": iso(T0), "until": iso(T0 + timedelta(minutes=1))}
    if how == "query":
        response = api.get(url(metric.id, format="csv", **params))
    else:
        response = api.get(url(metric.id, **params), HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines() == [
        "timestamp,value",
        f"2024-03-01T10:00:30Z,{values[1]}",
        f"2024-03-01T10:01:00Z,{values[2]}",
    ]


def test_csv_buckets_have_their_columns(api, series):
    metric, _ = series
    response = api.get(
        url(
            metric.id,
            since=iso(T0),
            until=iso(T0 + timedelta(hours=1)),
            interval="1h",
            format="csv",
        )
    )
    assert (
        response.content.decode().splitlines()[0] == "timestamp,open,high,low,close,average,count"
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "yesterday"}, "since", "Expected ISO 8601"),
        ({"until": "2024-13-45"}, "until", "Expected ISO 8601"),
        (
            {"since": "2024-03-02T00:00:00Z", "until": "2024-03-01T00:00:00Z"},
            "since",
            "before until",
        ),
        ({"interval": "2m"}, "interval", "Expected one of auto, 1m, 5m, 15m, 1h, 4h, 1d"),
        ({"range": "2w"}, "range", "Expected one of 1h, 24h, 7d, 30d, 1y"),
        ({"range": "1h", "since": "2024-03-01T00:00:00Z"}, "range", "either since or range"),
        ({"limit": "0"}, "limit", "from 1 to 100,000"),
        ({"limit": "100001"}, "limit", "from 1 to 100,000"),
        ({"limit": "ten"}, "limit", "from 1 to 100,000"),
        ({"cursor": "abc"}, "cursor", "Not a cursor this server issued"),
    ],
)
def test_bad_parameters_are_a_400_saying_what_to_send(api, series, params, field, message):
    metric, _ = series
    response = api.get(url(metric.id, **params))
    assert response.status_code == 400
    assert any(message in text for text in response.json()[field])


def test_a_tampered_cursor_is_refused(api, series):
    metric, _ = series
    first = api.get(url(metric.id, since=iso(T0), until=iso(T0 + timedelta(hours=1)), limit=1))
    link = first["Link"][1 : first["Link"].index(">")]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = api.get(url(metric.id, cursor=tampered))
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_a_csv_request_that_fails_gets_json(api, series):
    metric, _ = series
    response = api.get(url(metric.id, format="csv", limit="0"))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("interval", "width"),
    [("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("4h", 14400), ("1d", 86400)],
)
def test_every_interval_buckets_all_records_at_its_width(api, series, interval, width):
    metric, values = series
    body = api.get(
        url(
            metric.id,
            since=iso(T0 - timedelta(days=1)),
            until=iso(T0 + timedelta(hours=3)),
            interval=interval,
        )
    ).json()
    starts = [datetime.fromisoformat(b["timestamp"]).timestamp() for b in body]
    assert all(s % width == 0 for s in starts)
    assert starts == sorted(starts)
    assert sum(b["count"] for b in body) == len(values)
    assert body[0]["open"] == values[0]
    assert body[-1]["close"] == values[-1]
    assert min(b["low"] for b in body) == min(values)


def test_the_total_count_is_left_out_past_its_cap(api, series, monkeypatch):
    metric, _ = series
    window = {"since": iso(T0), "until": iso(T0 + timedelta(hours=2)), "limit": 10}
    assert api.get(url(metric.id, **window))["X-Total-Count"] == "239"
    monkeypatch.setattr("tracker.api.records.TOTAL_COUNT_CAP", 100)
    response = api.get(url(metric.id, **window, interval="raw"))
    assert "X-Total-Count" not in response
    assert len(response.json()) == 10


Y9999 = {"since": "9999-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z"}
Y1970 = {"since": "1970-01-01T00:00:00Z", "until": "1970-01-02T00:00:00Z"}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({**Y9999, "interval": "1d"}, 200, None),
        ({**Y9999, "interval": "raw"}, 200, None),
        ({**Y1970, "interval": "1d"}, 200, None),
        ({"since": "0", "until": "86400", "limit": "1"}, 200, None),
        ({"since": "0001-01-02T00:00:00Z", "until": "0001-01-03T00:00:00Z"}, 400, "since,until"),
        ({"since": "-62135596800", "interval": "1h"}, 400, "since"),
        ({"since": "-62135596800", "interval": "1h", "range": ""}, 400, "range,since"),
        ({"until": "99999999999999"}, 400, "until"),
        ({"until": "9999-12-31T00:00:01Z"}, 400, "until"),
    ],
)  # fmt: skip
def test_extreme_dates_are_answered_or_refused_never_a_500(api, series, params, status, field):
    metric, _ = series
    response = api.get(url(metric.id, **params))
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    if field is not None:
        assert set(response.json()) == set(field.split(","))


BIG = "9" * 5000


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=0001-01-01T00:00:00%2B01:00", "since"),
        ("until=0001-01-02T00:00:00Z&range=7d", "until"),
        ("until=1970-01-03T00:00:00Z&range=7d", "range"),
        ("until=1970-01-01T12:00:00Z", "until"),
        ("until=9999-12-31T23:00:00-05:00", "until"),
        ("since=9999-12-31T23:59:59.999999Z", "since"),
        ("since=1e400", "since"),
        ("since=1E5", "since"),
        ("since=%EF%BC%91%EF%BC%92%EF%BC%93", "since"),  # full-width digits
        ("since=%D9%A1%D9%A2", "since"),  # Arabic-Indic digits
        (f"until={BIG}", "until"),
        (f"until=-{BIG}", "until"),
        (f"until=1.{BIG}", "until"),
        (f"since=2024-03-01T10:00:00.{BIG}Z", "since"),
        ("limit=%C2%B2", "limit"),  # superscript two
        ("limit=%D9%A1%D9%A2", "limit"),  # Arabic-Indic twelve
        (f"limit={BIG}", "limit"),
        ("limit=+5", "limit"),
        ("limit=5.0", "limit"),
        ("limit=%205", "limit"),
        ("interval=", "interval"),
        ("range=", "range"),
        ("format=", "format"),
        ("since=", "since"),
        ("until=", "until"),
        ("limit=", "limit"),
        ("cursor=", "cursor"),
        (f"cursor={BIG}", "cursor"),
        ("interval=%E2%80%8B1h", "interval"),  # a zero-width space before 1h
        ("since=2024-03-01T10:00:00%00Z", "since"),
    ],
)
def test_absurd_values_are_a_400_naming_the_parameter(api, series, query, field):
    metric, _ = series
    response = api.get(f"/api/v1/metrics/{metric.id}/records?{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == [field]
    assert isinstance(body[field], list) and all(isinstance(m, str) and m for m in body[field])


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T00:00:00Z", "interval": "1d"},
        {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T00:00:00Z", "limit": "1"},
        {"until": "9999-12-31T00:00:00Z", "range": "1y", "interval": "1m", "limit": "100000"},
        {"since": "1970-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z", "interval": "1d"},
        {"since": "1970-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z", "limit": "1"},
    ],
)
def test_windows_at_the_edges_page_without_overflowing(api, series, params):
    metric, _ = series
    response = api.get(url(metric.id, **params))
    assert response.status_code == 200
    pages, link = [response.json()], response.get("Link")
    while link:  # following every next page must not overflow either
        response = api.get(link[1 : link.index(">")])
        assert response.status_code == 200
        pages.append(response.json())
        link = response.get("Link")
    assert all(pages[:-1]) or len(pages) == 1


def _cursor_of(response) -> str:
    link = response["Link"]
    return parse_qs(urlsplit(link[1 : link.index(">")]).query)["cursor"][0]


@pytest.mark.parametrize(
    "change",
    [
        {"metric": True},
        {"interval": "1h"},
        {"since": iso(T0 + timedelta(minutes=1))},
        {"until": iso(T0 + timedelta(hours=2))},
        {"range": "24h", "since": None},
    ],
)
def test_a_cursor_only_continues_the_request_it_came_from(api, series, change):
    metric, _ = series
    other = metric_create("ETH/USD")
    window = {"since": iso(T0), "until": iso(T0 + timedelta(hours=1)), "interval": "raw"}
    first = api.get(url(metric.id, **window, limit=2))
    cursor = _cursor_of(first)
    assert api.get(url(metric.id, **window, limit=2, cursor=cursor)).status_code == 200

    params = {**window, "limit": 2, "cursor": cursor}
    target = other.id if change.pop("metric", False) else metric.id
    for name, value in change.items():
        if value is None:
            params.pop(name)
        else:
            params[name] = value
    response = api.get(url(target, **params))
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["cursor"]


def test_a_bucket_cursor_is_refused_for_raw_records(api, series):
    metric, _ = series
    window = {"since": iso(T0), "until": iso(T0 + timedelta(hours=2)), "limit": 1}
    cursor = _cursor_of(api.get(url(metric.id, **window, interval="1h")))
    response = api.get(url(metric.id, **window, interval="raw", cursor=cursor))
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


@pytest.fixture
def sparse():
    """26 records, one every two weeks over a year: 26 hourly buckets in 8,760 hours."""
    metric = metric_create()
    records_add(metric, [float(i) for i in range(26)], end=T0, step=timedelta(days=14))
    return metric


def test_bucket_pages_count_buckets_not_time_slots(api, sparse, django_assert_max_num_queries):
    until = iso(T0 + timedelta(hours=1))
    # Two index probes per bucket found in the gaps, not one query per empty hour (8,760).
    with django_assert_max_num_queries(60):
        response = api.get(url(sparse.id, range="1y", until=until, interval="1h", limit=50))
    assert [b["close"] for b in response.json()] == [float(i) for i in range(26)]
    assert "Link" not in response


def test_no_bucket_page_is_empty_unless_the_window_is(api, sparse):
    response = api.get(url(sparse.id, range="1y", until=iso(T0 + timedelta(hours=1)),
                           interval="1m", limit=3))  # fmt: skip
    pages = [response.json()]
    while "Link" in response:
        response = api.get(response["Link"][1 : response["Link"].index(">")])
        pages.append(response.json())
    assert [len(p) for p in pages] == [3] * 8 + [2]
    assert [b["close"] for page in pages for b in page] == [float(i) for i in range(26)]
    empty = api.get(url(sparse.id, since=iso(T0 + timedelta(days=1)), interval="1h", limit=5,
                        until=iso(T0 + timedelta(days=9))))  # fmt: skip
    assert empty.json() == []
    assert "Link" not in empty
