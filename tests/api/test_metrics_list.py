"""The metrics list: pages by cursor, filters, a 400 for every bad parameter, and a cache that
follows the list's content (metrics added or removed, pairs paused) and not new records."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import records_add
from tracker.api.metrics import DEFAULT_LIMIT, MAX_LIMIT
from tracker.common.clock import utc_now
from tracker.ingest.pairs import pair_remove
from tracker.markets import services
from tracker.markets.models import Metric, MetricKind, Pair
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db
KINDS = len(MetricKind.values)  # the factory's pairs get every configured kind
URL = "/api/v1/metrics"


def pairs_add(symbols: list[str], exchange: str = "kraken") -> list[Pair]:
    ex = services.exchange_get_or_create(name=exchange)
    return services.pairs_create(exchange=ex, symbols=symbols)


@pytest.fixture
def market() -> None:
    """Three pairs on kraken and two on bitstamp: 25 metrics."""
    pairs_add(["BTC/USD", "ETH/USD", "SOL/EUR"])
    pairs_add(["BTC/USD", "ETH/EUR"], exchange="bitstamp")


def all_ids() -> list[int]:
    return list(Metric.objects.order_by("id").values_list("id", flat=True))


def next_link(response) -> str | None:
    link = response.get("Link")
    if link is None:
        return None
    url, rel = link.split(";")
    assert rel.strip() == 'rel="next"'
    return url.strip().removeprefix("<").removesuffix(">")


def test_few_metrics_come_whole_in_one_plain_array(api, market):
    response = api.get(URL)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == all_ids()
    assert "Link" not in response
    assert "X-Next-Cursor" not in response


def test_the_link_header_walks_every_metric_once_in_id_order(api, market):
    seen, pages = [], 0
    url: str | None = f"{URL}?limit=4"
    while url is not None:
        response = api.get(url)
        assert response.status_code == 200
        body = response.json()
        assert 0 < len(body) <= 4
        seen += [m["id"] for m in body]
        pages += 1
        url = next_link(response)
        if url is not None:
            assert parse_qs(urlsplit(url).query)["cursor"] == [response["X-Next-Cursor"]]
            assert parse_qs(urlsplit(url).query)["limit"] == ["4"]
    assert seen == all_ids()
    assert pages == 7  # 25 metrics, 4 a page


def test_the_cursor_header_walks_the_same_pages(api, market):
    seen, cursor = [], None
    while True:
        response = api.get(URL, {"limit": 10, **({"cursor": cursor} if cursor else {})})
        seen += [m["id"] for m in response.json()]
        cursor = response.get("X-Next-Cursor")
        if cursor is None:
            break
    assert seen == all_ids()


def test_a_full_last_page_has_no_next(api, market):
    response = api.get(URL, {"limit": 25})
    assert len(response.json()) == 25
    assert "X-Next-Cursor" not in response


def test_pages_are_stable_while_metrics_are_added(api, market):
    first = api.get(URL, {"limit": 10})
    before = [m["id"] for m in first.json()]
    pairs_add(["ADA/USD"])  # new metrics get higher ids: they come at the end
    seen = list(before)
    url = next_link(first)
    while url is not None:
        response = api.get(url)
        seen += [m["id"] for m in response.json()]
        url = next_link(response)
    assert seen == all_ids()
    assert len(seen) == 30


def test_filters_alone(api, market):
    def symbols(**params) -> list[tuple[str, str, str]]:
        return [(m["exchange"], m["pair"], m["metric"]) for m in api.get(URL, params).json()]

    assert {e for e, _, _ in symbols(exchange="bitstamp")} == {"bitstamp"}
    assert len(symbols(exchange="bitstamp")) == 2 * KINDS
    assert {(e, p) for e, p, _ in symbols(pair="BTC/USD")} == {
        ("kraken", "BTC/USD"),
        ("bitstamp", "BTC/USD"),
    }
    assert {k for _, _, k in symbols(kind="spread")} == {"spread"}
    assert len(symbols(kind="spread")) == 5


def test_filters_combined(api, market):
    body = api.get(URL, {"exchange": "bitstamp", "pair": "BTC/USD", "kind": "bid"}).json()
    metric = Metric.objects.get(pair__exchange__name="bitstamp", pair__symbol="BTC/USD", kind="bid")
    assert body == [
        {
            "id": metric.id,
            "pair": "BTC/USD",
            "metric": "bid",
            "exchange": "bitstamp",
            "active": True,
        }
    ]


def test_a_filtered_walk_keeps_its_filters(api, market):
    seen = []
    url: str | None = f"{URL}?kind=price&limit=2"
    while url is not None:
        response = api.get(url)
        seen += [(m["metric"], m["id"]) for m in response.json()]
        url = next_link(response)
    assert seen == [(m.kind, m.id) for m in Metric.objects.filter(kind="price").order_by("id")]


@pytest.mark.parametrize(
    "params",
    [
        {"exchange": "binance"},
        {"pair": "DOGE/USD"},
        {"pair": "БТК/USD"},  # non-ASCII, printable: simply nothing matches
        {"exchange": "krakén"},
        {"pair": "ETH/EUR", "exchange": "kraken"},  # each exists, not together
    ],
)
def test_a_filter_that_matches_nothing_is_an_empty_array(api, market, params):
    response = api.get(URL, params)
    assert response.status_code == 200
    assert response.json() == []


def test_an_unknown_kind_is_a_400_listing_the_kinds(api, market):
    response = api.get(URL, {"kind": "candles"})
    assert response.status_code == 400
    assert response.json() == {
        "kind": ["Expected one of price, volume, bid, ask, spread; got 'candles'."]
    }


@pytest.mark.parametrize("name", ["exchange", "pair", "kind", "limit", "cursor"])
def test_an_empty_value_is_a_400_naming_it(api, market, name):
    response = api.get(f"{URL}?{name}=")
    assert response.status_code == 400
    assert response.json() == {name: [f"Empty. Give a value for {name}, or leave it out."]}


@pytest.mark.parametrize(
    "value", ["0", "-1", str(MAX_LIMIT + 1), str(10**30), "1.5", "1e3", "abc", "١٢", "²", " 5"]
)
def test_a_bad_limit_is_a_400(api, market, value):
    response = api.get(URL, {"limit": value})
    assert response.status_code == 400
    assert response.json() == {"limit": [f"Expected a whole number from 1 to {MAX_LIMIT:,}."]}


def test_the_largest_limit_is_allowed(api, market):
    assert len(api.get(URL, {"limit": MAX_LIMIT}).json()) == 25
    assert DEFAULT_LIMIT <= MAX_LIMIT


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pair", "BTC/USD\x00"),  # PostgreSQL would refuse the NUL: a 400, not a 500
        ("pair", "BTC\n/USD"),
        ("pair", "X" * 33),  # longer than any stored symbol
        ("exchange", "k" * 65),
        ("exchange", "\x7f"),
    ],
)
def test_unprintable_or_too_long_names_are_a_400(api, market, name, value):
    response = api.get(URL, {name: value})
    assert response.status_code == 400
    assert list(response.json()) == [name]
    assert "printable characters" in response.json()[name][0]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJhIjo0fQ:1xXXfk:qeeR_X4RbfgugxZgB1QjU3iBH5UjW44H0K8mc3nSneI",  # forged signature
        "é" * 10,
        "x" * 5000,
    ],
)
def test_a_cursor_this_server_did_not_issue_is_a_400(api, market, cursor):
    response = api.get(URL, {"cursor": cursor})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_a_records_cursor_is_no_metrics_cursor(api, market):
    metric = Metric.objects.order_by("id")[0]
    now = utc_now()
    records_add(metric, [1.0, 2.0, 3.0], end=now - timedelta(seconds=5))
    records_cursor = api.get(f"{URL}/{metric.id}/records?limit=1")["X-Next-Cursor"]
    response = api.get(URL, {"cursor": records_cursor})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_a_cursor_is_refused_with_other_filters(api, market):
    cursor = api.get(URL, {"kind": "price", "limit": 2})["X-Next-Cursor"]
    assert api.get(URL, {"kind": "price", "cursor": cursor}).status_code == 200
    assert api.get(URL, {"kind": "price", "limit": 3, "cursor": cursor}).status_code == 200
    for other in ({"kind": "volume"}, {}, {"kind": "price", "exchange": "kraken"}):
        response = api.get(URL, {**other, "cursor": cursor})
        assert response.status_code == 400, other
        assert list(response.json()) == ["cursor"]


def test_every_bad_parameter_is_named_at_once(api, market):
    response = api.get(URL, {"kind": "x", "limit": "0", "cursor": "y", "pair": "\x00"})
    assert response.status_code == 400
    assert set(response.json()) == {"kind", "limit", "cursor", "pair"}


# The cache: one query (the list's version) for an answer served again.


def test_an_answer_is_served_again_from_the_cache(api, market, django_assert_num_queries):
    with django_assert_num_queries(2):  # the version, then the page
        first = api.get(URL)
    with django_assert_num_queries(1):  # the version only
        again = api.get(URL)
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == first["Cache-Control"]


def test_if_none_match_gets_a_304_without_reading_the_metrics(
    api, market, monkeypatch, django_assert_num_queries
):
    etag = api.get(URL, {"kind": "price"})["ETag"]

    def touched(**kwargs):
        raise AssertionError("the page was read again")

    monkeypatch.setattr("tracker.markets.selectors.metrics_page", touched)
    with django_assert_num_queries(1):
        again = api.get(URL, {"kind": "price"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_each_query_has_its_own_etag(api, market):
    etags = {api.get(URL, params)["ETag"] for params in ({}, {"kind": "bid"}, {"limit": 3})}
    assert len(etags) == 3


def _changed(api, etag: str) -> bool:
    response = api.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code in (200, 304)
    return response.status_code == 200


def test_new_records_leave_the_list_cached(api, market):
    etag = api.get(URL)["ETag"]
    metric = Metric.objects.order_by("id")[0]
    now = utc_now()
    records_add(metric, [1.0, 2.0], end=now - timedelta(seconds=5))
    records_ingest(samples=[Sample(m, now, 3.0) for m in all_ids()])  # a tick of every metric
    assert not _changed(api, etag)


def test_adding_a_pair_changes_the_list(api, market):
    first = api.get(URL)
    pairs_add(["ADA/USD"])
    again = api.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert len(again.json()) == len(first.json()) + KINDS


def test_removing_a_pair_marks_its_metrics_inactive(api, market):
    first = api.get(URL)
    pair = Pair.objects.get(exchange__name="kraken", symbol="ETH/USD")
    pair_remove(pair=pair, now=utc_now(), by="sam")
    again = api.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    inactive = {m["id"] for m in again.json() if not m["active"]}
    assert inactive == set(pair.metrics.values_list("id", flat=True))
    assert len(inactive) == KINDS


def test_purging_a_pair_drops_its_metrics(api, market):
    etag = api.get(URL)["ETag"]
    pair = Pair.objects.get(exchange__name="bitstamp", symbol="ETH/EUR")
    pair_remove(pair=pair, now=utc_now(), purge=True)
    again = api.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200
    assert len(again.json()) == 25 - KINDS


def test_pausing_and_resuming_change_the_list(api, market):
    pair = Pair.objects.get(exchange__name="kraken", symbol="BTC/USD")
    now = utc_now()
    etag = api.get(URL)["ETag"]
    services.pair_set_active(pair=pair, active=False, now=now)
    assert _changed(api, etag)
    paused = api.get(URL)
    assert not paused.json()[0]["active"]
    services.pair_set_active(pair=pair, active=True, now=now + timedelta(seconds=1))
    resumed = api.get(URL, HTTP_IF_NONE_MATCH=paused["ETag"])
    assert resumed.status_code == 200
    assert resumed.json()[0]["active"]


def test_pausing_one_pair_and_resuming_another_changes_the_list(api, market):
    btc, eth = Pair.objects.filter(exchange__name="kraken").order_by("id")[:2]
    now = utc_now()
    services.pair_set_active(pair=eth, active=False, now=now)
    etag = api.get(URL)["ETag"]
    # The same number of active pairs afterwards, with the same stamp: still another list.
    services.pair_set_active(pair=btc, active=False, now=now)
    services.pair_set_active(pair=eth, active=True, now=now)
    assert _changed(api, etag)


def test_a_new_metric_kind_changes_the_list(api, market, settings):
    etag = api.get(URL)["ETag"]
    Metric.objects.filter(kind="spread").delete()
    assert _changed(api, etag)
    etag = api.get(URL)["ETag"]
    assert services.metrics_ensure() == 5  # the spreads again, with new ids
    assert _changed(api, etag)


# The schema.


def test_the_schema_documents_the_parameters_and_headers(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][URL]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert set(parameters) == {"exchange", "pair", "kind", "limit", "cursor"}
    assert parameters["kind"] == {"$ref": "#/components/schemas/MetricKind"}
    assert schema["components"]["schemas"]["MetricKind"]["enum"] == MetricKind.values
    limit = parameters["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_LIMIT, DEFAULT_LIMIT)
    ok = operation["responses"]["200"]
    assert {"X-Next-Cursor", "Link", "ETag", "Cache-Control"} <= set(ok["headers"])
    assert ok["content"]["application/json"]["schema"]["type"] == "array"
    assert "304" in operation["responses"]
    assert "400" in operation["responses"]
