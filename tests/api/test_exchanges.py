"""The exchanges endpoints: list with health, supported ids, staff PATCH and POST."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import client_for
from tracker.common.clock import utc_now
from tracker.markets import services
from tracker.markets.models import Exchange

pytestmark = pytest.mark.django_db

FIELDS = {
    "id", "name", "enabled", "interval", "mode", "base_url", "ws_url", "last_success",
    "last_error", "last_error_at", "consecutive_failures", "status", "created_at",
}  # fmt: skip


def test_the_list_shows_settings_and_health():
    services.exchanges_seed(seeds=[("kraken", "http://127.0.0.1:8765", "")], interval=5)
    body = client_for(None).get("/api/v1/exchanges").json()
    assert len(body) == 1
    assert set(body[0]) == FIELDS
    assert body[0]["name"] == "kraken"
    assert body[0]["enabled"] is True
    assert body[0]["interval"] == 5
    assert body[0]["mode"] == "poll"
    assert body[0]["base_url"] == "http://127.0.0.1:8765"
    assert body[0]["status"] == "stale"  # never polled


def test_status_follows_failures_and_recovery():
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=10)
    now = utc_now()

    def status() -> dict:
        return client_for(None).get("/api/v1/exchanges/kraken").json()

    services.exchange_health_record(name="kraken", now=now)
    assert status()["status"] == "ok"
    services.exchange_health_record(name="kraken", now=now, error="ExchangeUnavailable: 503")
    services.exchange_health_record(name="kraken", now=now, error="ExchangeUnavailable: 503")
    failing = status()
    assert failing["status"] == "failing"
    assert failing["consecutive_failures"] == 2
    assert failing["last_error"] == "ExchangeUnavailable: 503"
    services.exchange_health_record(name="kraken", now=now)
    back = status()
    assert (back["status"], back["consecutive_failures"]) == ("ok", 0)
    assert back["last_error"] == "ExchangeUnavailable: 503"  # kept for the record
    Exchange.objects.filter(name="kraken").update(last_success=now - timedelta(seconds=31))
    assert status()["status"] == "stale"  # no success within three intervals


def test_supported_lists_ccxt_ids():
    ids = client_for(None).get("/api/v1/exchanges/supported").json()
    assert "kraken" in ids and "bitstamp" in ids
    assert ids == sorted(ids)


def test_staff_patch_changes_how_it_is_polled(staff):
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=60)
    response = client_for(staff).patch(
        "/api/v1/exchanges/kraken",
        {"enabled": False, "interval": 2.5, "mode": "stream"},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = Exchange.objects.get(name="kraken")
    assert (stored.enabled, stored.interval, stored.mode) == (False, 2.5, "stream")


def test_staff_patch_points_it_at_other_urls(staff):
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=60)
    urls = {"base_url": "https://mirror.example/kraken", "ws_url": "wss://mirror.example/v2"}
    response = client_for(staff).patch("/api/v1/exchanges/kraken", urls, format="json")
    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in urls} == urls
    stored = Exchange.objects.get(name="kraken")
    assert (stored.base_url, stored.ws_url) == (urls["base_url"], urls["ws_url"])
    cleared = {"base_url": "", "ws_url": ""}
    response = client_for(staff).patch("/api/v1/exchanges/kraken", cleared, format="json")
    assert response.status_code == 200, response.content
    assert Exchange.objects.filter(name="kraken", base_url="", ws_url="").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interval": 0.5}, "interval"),
        ({"interval": 1e308}, "interval"),  # a timedelta cannot hold it
        ({"interval": 86_400.5}, "interval"),
        ({"mode": "carrier pigeon"}, "mode"),
        ({"base_url": "ftp://mirror.example"}, "base_url"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        ({"ws_url": "http://mirror.example/v2"}, "ws_url"),
        ({"ws_url": "wss://"}, "ws_url"),
        ({"ws_url": "wss://" + "a" * 250 + ".example"}, "ws_url"),
    ],
)
def test_patch_refuses_bad_values(staff, body, field):
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=60)
    response = client_for(staff).patch("/api/v1/exchanges/kraken", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    stored = Exchange.objects.get(name="kraken")
    assert (stored.interval, stored.mode, stored.base_url, stored.ws_url) == (60, "poll", "", "")


def test_stream_mode_is_refused_for_an_exchange_without_a_stream(staff):
    services.exchanges_seed(seeds=[("bitstamp", "", "")], interval=60)
    staff_client = client_for(staff)
    response = staff_client.patch("/api/v1/exchanges/bitstamp", {"mode": "stream"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "mode": ["bitstamp has no ticker stream here; it can only be polled (mode=poll)."]
    }
    assert Exchange.objects.get(name="bitstamp").mode == "poll"
    added = staff_client.post(
        "/api/v1/exchanges", {"name": "coinbase", "mode": "stream"}, format="json"
    )
    assert added.status_code == 201, added.content  # ccxt.pro streams its tickers
    refused = staff_client.post(
        "/api/v1/exchanges", {"name": "bitflyer", "mode": "stream"}, format="json"
    )
    assert refused.status_code == 400
    assert list(refused.json()) == ["mode"]


def test_patch_of_an_unknown_exchange_is_404(staff):
    assert (
        client_for(staff)
        .patch("/api/v1/exchanges/nope", {"enabled": False}, format="json")
        .status_code
        == 404
    )


def test_staff_post_adds_an_exchange(staff, settings):
    settings.TRACKER_FETCH_INTERVAL = 7.0
    response = client_for(staff).post(
        "/api/v1/exchanges",
        {"name": "bitstamp", "base_url": "http://127.0.0.1:8766"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["interval"] == 7.0
    stored = Exchange.objects.get(name="bitstamp")
    assert (stored.enabled, stored.base_url, stored.mode) == (True, "http://127.0.0.1:8766", "poll")


def test_post_of_an_id_ccxt_does_not_know_names_close_matches(staff):
    response = client_for(staff).post("/api/v1/exchanges", {"name": "krakn"}, format="json")
    assert response.status_code == 400
    assert "kraken" in response.json()["name"][0]
    assert not Exchange.objects.exists()


def test_post_of_a_known_exchange_is_409(staff):
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=60)
    response = client_for(staff).post("/api/v1/exchanges", {"name": "kraken"}, format="json")
    assert response.status_code == 409
    assert "exists already" in response.json()["detail"]


@pytest.mark.parametrize(("user", "code"), [(None, 401), ("alice", 403)])
def test_only_staff_change_exchanges(request, user, code):
    services.exchanges_seed(seeds=[("kraken", "", "")], interval=60)
    caller = client_for(request.getfixturevalue(user) if user else None)
    assert caller.post("/api/v1/exchanges", {"name": "bitstamp"}, format="json").status_code == code
    assert (
        caller.patch("/api/v1/exchanges/kraken", {"enabled": False}, format="json").status_code
        == code
    )
    assert Exchange.objects.get().enabled
