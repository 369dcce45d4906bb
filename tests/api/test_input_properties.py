"""Whatever a client sends, the answer is JSON, never a 5xx, and a rejected request changes
nothing. Hypothesis drives every query parameter of the records endpoint and every JSON body
the API accepts with arbitrary text, unicode digits, huge numbers, empty values and deep
nesting, alone and in combination."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.factories import metric_create, records_add
from tracker.accounts.models import ApiToken
from tracker.api.history import HistoryQuery, cursor_encode
from tracker.markets.models import Metric, Pair, PairStatus, Record

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
PARAMETERS = ("since", "until", "range", "interval", "limit", "cursor", "format")
FAST = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
).map(datetime.isoformat)
huge = st.sampled_from(["9" * 5000, "-" + "9" * 5000, "1e400", "-1e400", "1." + "0" * 4000])
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
unicode_digits = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=8)
valid = st.sampled_from(
    [
        *("raw", "1m", "5m", "15m", "1h", "4h", "1d", "auto", "24h", "7d", "30d", "1y"),
        *("json", "csv", "api", "1", "100", "100000", "1709287200", "2024-03-01T10:00:00Z"),
    ]
)
values = st.one_of(st.text(max_size=40), unicode_digits, numbers, huge, moments, valid, st.just(""))


def _stored() -> tuple[int, list[tuple[int, str, str]], int, Any]:
    version = list(Metric.objects.order_by("id").values_list("id", "version", "changed_at"))
    pairs = list(Pair.objects.order_by("id").values_list("id", "status", "status_reason"))
    return Record.objects.count(), pairs, ApiToken.objects.count(), version


def _check_answer(response: Any, names: set[str]) -> None:
    assert response.status_code < 500, response.content[:500]
    content_type = response["Content-Type"]
    if response.status_code == 304 or content_type.startswith("text/html"):
        return  # the browsable API (format=api) shows errors as a page, for people
    if response.status_code >= 400 or not content_type.startswith(("text/csv", "text/html")):
        assert content_type == "application/json", content_type
        body = json.loads(response.content)
    if response.status_code >= 400:
        assert isinstance(body, dict) and body
        for key, messages in body.items():
            if key == "detail":
                assert isinstance(messages, str) and messages
            else:
                assert key in names, body
                assert isinstance(messages, list) and messages
                assert all(isinstance(m, str) and m for m in messages)


@pytest.fixture
def series():
    metric = metric_create()
    records_add(metric, [float(i) for i in range(120)], end=T0, step=timedelta(seconds=30))
    return metric


@FAST
@given(
    params=st.dictionaries(st.sampled_from(PARAMETERS), values, max_size=len(PARAMETERS)),
    data=st.data(),
)
def test_records_query_parameters_never_make_a_5xx(series, params, data):
    cache.clear()  # no throttling, no cached answers: every example reaches the parsers
    if "cursor" in params and data.draw(st.booleans(), label="a real cursor"):
        query = HistoryQuery(
            metric_id=series.id,
            since=T0 - timedelta(hours=1),
            until=T0,
            interval=data.draw(st.sampled_from(["raw", "1m", "1h"]), label="its interval"),
            limit=10,
            after=T0 - timedelta(minutes=30),
            sliding=False,
        )
        params["cursor"] = cursor_encode(query, query.after or T0)
    before = _stored()
    response = APIClient().get(f"/api/v1/metrics/{series.id}/records", params)
    _check_answer(response, set(PARAMETERS))
    assert _stored() == before


@FAST
@given(value=values, accept=st.sampled_from(["*/*", "text/html", "text/csv", "application/xml"]))
def test_the_format_of_any_endpoint_never_makes_a_5xx(series, value, accept):
    cache.clear()
    for path in (f"/api/v1/metrics/{series.id}", "/api/v1/metrics", "/api/v1/pairs"):
        response = APIClient().get(path, {"format": value}, HTTP_ACCEPT=accept)
        _check_answer(response, {"format"})


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(["alice", "correct horse battery", "true", "false", "\u0000", "\ud800"]),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
objects = st.fixed_dictionaries(
    {},
    optional={
        "username": json_values,
        "password": json_values,
        "active": json_values,
        "symbol": json_values,
    },
)


def _encoded(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", errors="surrogatepass")


raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n),
    st.integers(min_value=1, max_value=5_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b"", b"\xff\xfe", b"\xef\xbb\xbf{}", b'{"active": tru}', b"9" * 5000]),
)
bodies = st.one_of(
    st.builds(_encoded, objects, st.booleans()),
    st.builds(_encoded, json_values, st.booleans()),
    raw_bodies,
)


@FAST
@given(body=bodies)
def test_token_bodies_never_make_a_5xx(alice, body):
    cache.clear()
    before = _stored()
    response = APIClient().post("/api/v1/auth/token", body, content_type="application/json")
    _check_answer(response, {"username", "password"})
    if response.status_code >= 400:
        assert _stored() == before


@FAST
@given(body=bodies)
def test_pair_bodies_never_make_a_5xx(staff, body):
    cache.clear()
    pair = Pair.objects.first() or metric_create().pair
    Pair.objects.filter(id=pair.id).update(status=PairStatus.ACTIVE, status_reason="")
    client = client_for(staff)
    before = _stored()
    response = client.patch(f"/api/v1/pairs/{pair.id}", body, content_type="application/json")
    _check_answer(response, {"active", "symbol"})
    if response.status_code >= 400:
        assert _stored() == before
