"""Pairs in the API: their status (active, paused, delisted) and why; staff resume and pause."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.conftest import client_for
from tests.factories import metric_create
from tracker.markets.models import PairStatus
from tracker.markets.services import pairs_delist

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
