"""The staff pages: pairs (added with a symbol picker fed by the exchange's markets, paused,
resumed, removed) and each exchange's health. Anonymous visitors sign in; other users get a
403 page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import metric_create
from tracker.common.clock import utc_now
from tracker.markets.models import Exchange, Pair, PairStatus
from tracker.markets.services import exchange_get_or_create, exchange_health_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave() -> User:
    return User.objects.create_user("dave", password="dave's long passphrase")


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("sam", password="staff passphrase 1", is_staff=True)


@pytest.fixture
def on_kraken(kraken) -> Exchange:
    return exchange_get_or_create(name="kraken", base_url=kraken.url)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


@pytest.mark.parametrize("path", ["/pairs", "/exchanges"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login?next={path}"


def test_other_users_get_a_403_page(dave):
    pair = metric_create().pair
    client = signed_in(dave)
    for path in ("/pairs", "/exchanges"):
        page = client.get(path)
        assert page.status_code == 403
        assert "Only staff manage pairs and exchanges." in text(page)
    for path in ("/pairs", f"/pairs/{pair.id}/active", f"/pairs/{pair.id}/remove"):
        assert client.post(path, {"exchange": "kraken", "symbol": "ETH/USD"}).status_code == 403
    pair.refresh_from_db()
    assert pair.status == PairStatus.ACTIVE
    assert Pair.objects.count() == 1


# --- pairs --------------------------------------------------------------------------------


def test_the_picker_offers_the_exchanges_markets(staff, on_kraken):
    page = signed_in(staff).get("/pairs")
    assert page.status_code == 200
    body = text(page)
    picker = re.search(r'<datalist id="symbols">(.*?)</datalist>', body, re.S)
    assert picker is not None
    assert '<option value="ETH/USD">' in picker.group(1)
    assert 'list="symbols"' in body


def test_staff_add_a_pair_from_the_page(staff, on_kraken):
    client = signed_in(staff)
    response = client.post("/pairs", {"exchange": "kraken", "symbol": "ETH/USD"})
    assert response.status_code == 302, text(response)
    pair = Pair.objects.get(symbol="ETH/USD")
    assert pair.status == PairStatus.ACTIVE and pair.metrics.count() > 0
    assert pair.backfilled_until is not None  # filled from candles, as the API does
    page = text(client.get(response["Location"]))
    assert "ETH/USD on kraken added" in page
    assert f'id="pair-{pair.id}"' in page


def test_an_unlisted_symbol_is_refused_with_close_matches(staff, on_kraken):
    response = signed_in(staff).post("/pairs", {"exchange": "kraken", "symbol": "ETH/EUR"})
    assert response.status_code == 400
    body = text(response)
    errors = re.search(r'<ul class="errorlist" id="id_symbol_error">(.*?)</ul>', body, re.S)
    assert errors is not None, body
    assert "kraken does not list ETH/EUR" in errors.group(1)
    assert "Close matches: ETH/USD" in errors.group(1)
    assert 'value="ETH/EUR"' in body
    assert not Pair.objects.exists()


def test_a_tracked_pair_is_refused(staff, on_kraken):
    metric_create("BTC/USD")
    response = signed_in(staff).post("/pairs", {"exchange": "kraken", "symbol": "BTC/USD"})
    assert response.status_code == 400
    assert "tracked already" in text(response)
    assert Pair.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"exchange": "kraken", "symbol": ""}, "may not be blank"),
        ({"exchange": "kraken", "symbol": "Ω" * 40}, "no more than 32 characters"),
        ({"exchange": "nowhere", "symbol": "BTC/USD"}, "Unknown exchange 'nowhere'"),
        ({"exchange": "", "symbol": "BTC/USD"}, "may not be blank"),
    ],
)
def test_bad_pair_input_is_refused(staff, on_kraken, fields, message):
    response = signed_in(staff).post("/pairs", fields)
    assert response.status_code == 400
    assert message in text(response)
    assert not Pair.objects.exists()


def test_an_unreachable_exchange_is_said_and_typing_still_works(staff, on_kraken, kraken):
    kraken.stop()
    client = signed_in(staff)
    page = client.get("/pairs")
    assert page.status_code == 200
    assert "kraken cannot be reached for its markets" in text(page)
    assert 'name="symbol"' in text(page)
    response = client.post("/pairs", {"exchange": "kraken", "symbol": "BTC/USD"})
    assert response.status_code == 400
    assert "kraken cannot be asked for its markets" in text(response)
    assert not Pair.objects.exists()


def test_staff_pause_resume_and_remove_a_pair(staff):
    pair = metric_create("BTC/USD").pair
    client = signed_in(staff)
    listed = text(client.get("/pairs"))
    assert f'action="/pairs/{pair.id}/active"' in listed and "active" in listed

    assert client.post(f"/pairs/{pair.id}/active", {"active": "false"}).status_code == 302
    pair.refresh_from_db()
    assert (pair.status, pair.status_reason) == (PairStatus.PAUSED, "paused by sam")
    assert "BTC/USD on kraken paused." in text(client.get("/pairs"))

    assert client.post(f"/pairs/{pair.id}/active", {"active": "true"}).status_code == 302
    pair.refresh_from_db()
    assert pair.status == PairStatus.ACTIVE

    assert client.post(f"/pairs/{pair.id}/remove").status_code == 302
    pair.refresh_from_db()
    assert (pair.status, pair.status_reason) == (PairStatus.PAUSED, "removed by sam")
    assert "history is kept" in text(client.get("/pairs"))


def test_pair_changes_are_post_only_and_unknown_pairs_404(staff):
    pair = metric_create().pair
    client = signed_in(staff)
    assert client.get(f"/pairs/{pair.id}/remove").status_code == 405
    assert client.post(f"/pairs/{2**63}/remove").status_code == 404
    assert client.post(f"/pairs/{pair.id + 1}/active", {"active": "false"}).status_code == 404


def test_pairs_are_listed_by_exchange_with_their_status(staff):
    metric_create("BTC/USD", exchange="kraken")
    metric_create("ETH/EUR", exchange="bitstamp")
    pair = Pair.objects.get(symbol="ETH/EUR")
    Pair.objects.filter(id=pair.id).update(status=PairStatus.DELISTED, status_reason="gone")
    body = text(signed_in(staff).get("/pairs"))
    assert body.index("<h2>bitstamp</h2>") < body.index("ETH/EUR") < body.index("<h2>kraken</h2>")
    assert '<span class="badge broken">delisted</span>' in body and "gone" in body
    assert '<span class="badge ok">active</span>' in body


# --- exchanges ----------------------------------------------------------------------------


def test_each_exchanges_health_is_shown(staff):
    now = utc_now()
    exchange_get_or_create(name="kraken")
    exchange_get_or_create(name="bitstamp")
    exchange_get_or_create(name="coinbase")
    exchange_health_record(name="kraken", now=now - timedelta(seconds=5))
    exchange_health_record(name="bitstamp", now=now - timedelta(minutes=1))
    exchange_health_record(name="bitstamp", now=now, error="timed out after 10 s")
    exchange_health_record(name="bitstamp", now=now, error="timed out after 10 s")
    page = signed_in(staff).get("/exchanges")
    assert page.status_code == 200
    body = text(page)
    rows = dict(re.findall(r'<tr id="exchange-(\w+)">(.*?)</tr>', body, re.S))
    assert '<span class="badge ok">ok</span>' in rows["kraken"]
    assert '<span class="badge failing">failing</span>' in rows["bitstamp"]
    assert "timed out after 10 s" in rows["bitstamp"]
    assert '<td class="num">2</td>' in rows["bitstamp"]
    assert '<span class="badge stale">stale</span>' in rows["coinbase"]
    assert "never" in rows["coinbase"]
    assert "60 s" in rows["kraken"] and "poll" in rows["kraken"]
