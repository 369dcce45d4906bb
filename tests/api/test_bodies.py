"""Request bodies: bounded in size and depth, UTF-8 JSON, and a 4xx JSON answer otherwise."""

from __future__ import annotations

import pytest

from tests.api.conftest import client_for
from tests.factories import metric_create
from tracker.accounts.models import ApiToken
from tracker.markets.models import Pair

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000
BAD = [
    (DEEP, 400),
    (b'{"username": ' + b"[" * 2000 + b"]" * 2000 + b', "password": "x"}', 400),
    (b'{"username": "al\xffce", "password": "x"}', 400),  # not UTF-8
    (b"\xef\xbb\xbf" + b'{"active": false}', 400),  # a byte-order mark is not JSON
    (b'{"username": "\\ud800", "password": "x"}', 400),  # a lone surrogate
    (b'{"active": NaN}', 400),
    (b'{"active": 1e400}', 400),
    (b'{"active": ' + b"9" * 5000 + b"}", 400),
    (b'{"active": false', 400),
    (b"[]", 400),
    (b"null", 400),
]


@pytest.fixture
def pair(staff):
    return metric_create().pair


@pytest.mark.parametrize(("body", "status"), BAD)
def test_bad_bodies_to_the_token_endpoint(api, alice, body, status):
    response = api.post("/api/v1/auth/token", body, content_type="application/json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["detail"], str)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(("body", "status"), BAD)
def test_bad_bodies_to_a_pair_leave_it_alone(staff, pair, body, status):
    response = client_for(staff).patch(
        f"/api/v1/pairs/{pair.id}", body, content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert isinstance(response.json()["detail"], str)
    assert Pair.objects.get(id=pair.id).active is True


def test_a_body_over_the_size_limit_is_a_413(staff, pair, settings):
    settings.TRACKER_API_MAX_BODY = 1000
    body = b'{"active": false, "padding": "' + b"x" * 1000 + b'"}'
    response = client_for(staff).patch(
        f"/api/v1/pairs/{pair.id}", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
    assert Pair.objects.get(id=pair.id).active is True
    small = client_for(staff).patch(
        f"/api/v1/pairs/{pair.id}", b'{"active": false}', content_type="application/json"
    )
    assert small.status_code == 200


def test_nesting_up_to_the_limit_is_parsed(api, alice):
    nested = b"[" * 1000 + b"]" * 1000
    body = b'{"username": "alice", "password": "correct horse battery", "extra": ' + nested + b"}"
    response = api.post("/api/v1/auth/token", body, content_type="application/json")
    assert response.status_code == 201
