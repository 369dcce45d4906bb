"""Pairs in the API: their status (active, paused, delisted) and why; staff resume and pause,
add (checked against the exchange, backfilled), remove and purge them; the list filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.conftest import client_for
from tests.factories import metric_create, records_add
from tracker.common.clock import utc_now
from tracker.markets.models import Metric, MetricKind, Pair, PairStatus, Record
from tracker.markets.services import exchange_get_or_create, pairs_delist, ranks_refresh

pytestmark = pytest.mark.django_db
DELISTED_AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def delisted():
    pair = metric_create("LTC/USD").pair
    pairs_delist(
        exchange_id=pair.exchange_id,
        reasons={"LTC/USD": "kraken no longer lists LTC/USD in its markets"},
        now=DELISTED_AT,
    )
    pair.refresh_from_db()
    return pair


def test_the_pair_list_shows_each_status_and_its_reason(api, delisted):
    metric_create("BTC/USD")
    pairs = {p["symbol"]: p for p in api.get("/api/v1/pairs").json()}

    assert pairs["BTC/USD"]["status"] == "active"
    assert pairs["BTC/USD"]["active"] is True
    assert pairs["BTC/USD"]["status_reason"] == ""
    ltc = pairs["LTC/USD"]
    assert (ltc["status"], ltc["active"]) == ("delisted", False)
    assert ltc["status_reason"] == "kraken no longer lists LTC/USD in its markets"
    assert ltc["status_changed_at"] == "2024-03-01T12:00:00Z"


def test_staff_make_a_delisted_pair_active_again(staff, delisted):
    response = client_for(staff).patch(
        f"/api/v1/pairs/{delisted.id}", {"active": True}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["active"]) == ("active", True)
    delisted.refresh_from_db()
    assert delisted.status == PairStatus.ACTIVE
    assert delisted.status_changed_at is not None and delisted.status_changed_at > DELISTED_AT


def test_staff_pause_a_pair_and_the_reason_says_who(staff):
    pair = metric_create("BTC/USD").pair
    body = (
        client_for(staff).patch(f"/api/v1/pairs/{pair.id}", {"active": False}, format="json").json()
    )
    assert (body["status"], body["active"], body["status_reason"]) == (
        "paused",
        False,
        "paused by sam",
    )


def test_the_status_itself_is_not_writable(staff):
    pair = metric_create("BTC/USD").pair
    response = client_for(staff).patch(
        f"/api/v1/pairs/{pair.id}", {"status": "delisted", "status_reason": "x"}, format="json"
    )
    assert response.status_code == 200
    pair.refresh_from_db()
    assert (pair.status, pair.status_reason) == (PairStatus.ACTIVE, "")


def test_pausing_a_delisted_pair_keeps_why_it_was_delisted(staff, delisted):
    response = client_for(staff).patch(
        f"/api/v1/pairs/{delisted.id}", {"active": False}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["active"]) == ("delisted", False)
    assert body["status_reason"] == "kraken no longer lists LTC/USD in its markets"


# --- adding, removing, listing --------------------------------------------------------------


@pytest.fixture
def on_kraken(kraken):
    return exchange_get_or_create(name="kraken", base_url=kraken.url)


def test_staff_add_a_pair_and_get_its_metrics_and_24_hours_of_history(staff, on_kraken):
    response = client_for(staff).post(
        "/api/v1/pairs", {"exchange": "kraken", "symbol": "ETH/USD"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["exchange"], body["symbol"], body["status"]) == ("kraken", "ETH/USD", "active")
    metrics = {m["metric"]: m["id"] for m in body["metrics"]}
    assert set(metrics) == set(MetricKind.values)
    assert body["backfilled_from"] is not None and body["backfilled_until"] is not None
    ranks_refresh(kinds=[MetricKind.PRICE], now=utc_now())  # the runtime's, after the ingest
    detail = client_for(staff).get(f"/api/v1/metrics/{metrics['price']}").json()
    assert detail["stddev"] is not None and detail["records_24h"] >= 800


def test_an_unlisted_symbol_is_a_400_naming_close_matches(staff, on_kraken):
    response = client_for(staff).post(
        "/api/v1/pairs", {"exchange": "kraken", "symbol": "ETH/EUR"}, format="json"
    )

    assert response.status_code == 400
    (message,) = response.json()["symbol"]
    assert "kraken does not list ETH/EUR" in message and "Close matches: ETH/USD" in message


def test_an_unknown_exchange_is_a_400(staff, on_kraken):
    response = client_for(staff).post(
        "/api/v1/pairs", {"exchange": "nowhere", "symbol": "BTC/USD"}, format="json"
    )
    assert response.status_code == 400
    assert "nowhere" in response.json()["exchange"][0]


def test_a_tracked_pair_is_a_409(staff, on_kraken):
    metric_create("BTC/USD")
    response = client_for(staff).post(
        "/api/v1/pairs", {"exchange": "kraken", "symbol": "BTC/USD"}, format="json"
    )
    assert response.status_code == 409
    assert "tracked already" in response.json()["detail"]


def test_an_unreachable_exchange_is_a_503(staff, on_kraken, kraken):
    kraken.stop()
    response = client_for(staff).post(
        "/api/v1/pairs", {"exchange": "kraken", "symbol": "BTC/USD"}, format="json"
    )
    assert response.status_code == 503
    assert "kraken" in response.json()["detail"]
    assert not Pair.objects.exists()


def test_deleting_a_pair_keeps_its_history_readable(staff):
    metric = metric_create("BTC/USD")
    records_add(metric, [1.0, 2.0], end=DELISTED_AT)

    reader = client_for(None)
    detail = reader.get(f"/api/v1/metrics/{metric.id}")  # cached from here on
    assert detail.json()["active"] is True

    response = client_for(staff).delete(f"/api/v1/pairs/{metric.pair_id}")

    assert response.status_code == 204
    body = client_for(staff).get(f"/api/v1/pairs/{metric.pair_id}").json()
    assert (body["status"], body["status_reason"]) == ("paused", "removed by sam")
    assert client_for(staff).get(f"/api/v1/metrics/{metric.id}/records").status_code == 200
    assert Record.objects.filter(metric=metric).count() == 2
    # Its metrics say they get no new records, the cached detail too.
    assert {m["active"] for m in reader.get("/api/v1/metrics").json()} == {False}
    again = reader.get(f"/api/v1/metrics/{metric.id}", HTTP_IF_NONE_MATCH=detail["ETag"])
    assert again.status_code == 200
    assert again.json()["active"] is False


def test_deleting_with_purge_deletes_everything(staff):
    metric = metric_create("BTC/USD")
    records_add(metric, [1.0, 2.0], end=DELISTED_AT)

    response = client_for(staff).delete(f"/api/v1/pairs/{metric.pair_id}?purge=true")

    assert response.status_code == 204
    assert client_for(staff).get(f"/api/v1/pairs/{metric.pair_id}").status_code == 404
    assert not Record.objects.exists() and not Metric.objects.exists()


def test_the_pair_list_filters_by_exchange_and_status(api, delisted):
    metric_create("BTC/USD")
    metric_create("BTC/USD", exchange="bitstamp")

    def symbols(query: str) -> list[tuple[str, str]]:
        return [(p["exchange"], p["symbol"]) for p in api.get(f"/api/v1/pairs{query}").json()]

    assert symbols("?exchange=bitstamp") == [("bitstamp", "BTC/USD")]
    assert symbols("?status=delisted") == [("kraken", "LTC/USD")]
    assert symbols("?exchange=kraken&status=active") == [("kraken", "BTC/USD")]
    assert api.get("/api/v1/pairs?status=gone").status_code == 400


def test_each_pair_shows_its_metric_ids(api):
    metric = metric_create("BTC/USD")
    (pair,) = api.get("/api/v1/pairs").json()
    assert {"id": metric.id, "metric": "price"} in pair["metrics"]
