"""API v1 metrics endpoints: the seed's shapes, rank, records, and JSON errors."""

import re
from datetime import timedelta

import pytest

from tests.factories import metric_create, records_add
from tracker.common.clock import utc_now
from tracker.markets.models import MetricKind
from tracker.markets.services import ranks_refresh

pytestmark = pytest.mark.django_db


def test_list_is_an_array_of_id_pair_metric(api):
    metrics = [metric_create("BTC/USD", kind) for kind in MetricKind.values]

    response = api.get("/api/v1/metrics")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == [
        {
            "id": metric.id,
            "pair": "BTC/USD",
            "metric": metric.kind,
            "exchange": "kraken",
            "active": True,
        }
        for metric in metrics
    ]
    assert [m["metric"] for m in response.json()] == ["price", "volume", "bid", "ask", "spread"]


def test_detail_has_rank_stddev_and_rank_of(api):
    now = utc_now()
    btc = metric_create("BTC/USD")
    eth = metric_create("ETH/USD")
    records_add(btc, [1, 5], end=now)
    records_add(eth, [1, 2], end=now)
    ranks_refresh(kinds=["price"], now=now)

    body = api.get(f"/api/v1/metrics/{eth.id}").json()

    assert body == {
        "id": eth.id,
        "pair": "ETH/USD",
        "metric": "price",
        "exchange": "kraken",
        "active": True,
        "rank": 2,
        "rank_of": 2,
        "stddev": 0.5,
        "records_24h": 2,
        "ranked_at": now.isoformat().replace("+00:00", "Z"),
    }


def test_detail_of_a_metric_without_data_has_null_rank(api):
    metric = metric_create()
    body = api.get(f"/api/v1/metrics/{metric.id}").json()
    assert (body["rank"], body["stddev"], body["rank_of"]) == (None, None, 0)
    assert (body["records_24h"], body["ranked_at"]) == (0, None)


def test_records_are_the_last_24_hours_oldest_first_in_utc_z(api):
    now = (utc_now() - timedelta(seconds=1)).replace(microsecond=310744)
    metric = metric_create()
    records_add(metric, [1.0, 2.0, 3.0, 4.0], end=now, step=timedelta(hours=10))

    body = api.get(f"/api/v1/metrics/{metric.id}/records").json()

    assert [r["value"] for r in body] == [2.0, 3.0, 4.0]
    assert body[-1]["timestamp"] == now.strftime("%Y-%m-%dT%H:%M:%S.310744Z")
    assert list(body[0]) == ["timestamp", "value"]


@pytest.mark.parametrize("path", ["/api/v1/metrics/999", "/api/v1/metrics/999/records"])
def test_unknown_metric_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Metric 999 does not exist."}


def test_unknown_path_is_a_json_404(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_writes_are_refused_with_json_405(api):
    metric = metric_create()
    response = api.post(f"/api/v1/metrics/{metric.id}", {"value": 1}, format="json")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}


def test_root_lists_the_endpoints(api):
    body = api.get("/api/v1/").json()
    assert body["metrics"].endswith("/api/v1/metrics")
    assert body["schema"].endswith("/api/v1/schema")
    assert body["docs"].endswith("/api/v1/docs")


def test_browsable_api_renders_html_for_browsers(api):
    metric_create()
    response = api.get("/api/v1/metrics", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Metric List" in response.content


def test_openapi_schema_documents_the_endpoints(api):
    response = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) >= {
        "/api/v1/metrics",
        "/api/v1/metrics/{metric_id}",
        "/api/v1/metrics/{metric_id}/records",
    }


def test_openapi_schema_gives_each_history_one_type(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    def ok(path: str) -> dict:
        return paths[f"/api/v1/metrics/{{metric_id}}/{path}"]["get"]["responses"]["200"]

    assert ok("records")["content"] == {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}}
        }
    }
    assert ok("buckets")["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/Bucket"
    }
    for path in ("records.csv", "buckets.csv"):
        assert list(ok(path)["content"]) == ["text/csv"]
    for path in ("records", "buckets", "records.csv", "buckets.csv"):
        assert {"X-Next-Cursor", "Link", "ETag", "Last-Modified"} <= set(ok(path)["headers"])
    assert "X-Total-Count" in ok("records")["headers"]


def test_openapi_schema_documents_the_history_parameters(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    def parameters(path: str) -> dict[str, dict]:
        operation = schema["paths"][f"/api/v1/metrics/{{metric_id}}/{path}"]["get"]
        return {p["name"]: p["schema"] for p in operation["parameters"]}

    records, buckets = parameters("records"), parameters("buckets")
    assert set(records) == {"metric_id", "since", "until", "range", "limit", "cursor"}
    assert set(buckets) == set(records) | {"interval"}
    components = schema["components"]["schemas"]
    assert buckets["interval"] == {"$ref": "#/components/schemas/Interval"}
    assert records["range"] == {"$ref": "#/components/schemas/Range"}
    assert components["Interval"]["enum"] == ["auto", "1m", "5m", "15m", "1h", "4h", "1d"]
    assert components["Interval"]["x-enum-varnames"][:3] == ["AUTO", "ONE_MINUTE", "FIVE_MINUTES"]
    assert components["Range"]["x-enum-varnames"] == [
        "ONE_HOUR", "ONE_DAY", "ONE_WEEK", "THIRTY_DAYS", "ONE_YEAR"
    ]  # fmt: skip
    assert (records["limit"]["minimum"], records["limit"]["maximum"]) == (1, 100_000)
    assert {"type": "string", "format": "date-time"} in records["since"]["anyOf"]


def test_swagger_ui_uses_local_assets(api):
    response = api.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)  # nothing from another host


def test_the_schema_declares_token_and_session_security(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A key from POST /api/v1/auth/token, sent as `Authorization: Bearer "
        "<key>` (or `Token <key>`).",
    }
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/me"]["get"]["security"]


def test_an_unexpected_error_is_a_json_500_without_debug_details(monkeypatch):
    from django.test import Client

    def broken() -> None:
        raise RuntimeError("database exploded: secret detail")

    monkeypatch.setattr("tracker.markets.selectors.metric_list", broken)
    response = Client(raise_request_exception=False).get("/api/v1/metrics")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}


def test_cookies_are_secure_when_debug_is_off(settings):
    from django.contrib.auth.models import User
    from django.test import Client

    assert settings.DEBUG is False
    User.objects.create_user("carol", password="a long enough passphrase")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/api/v1/auth/login/")
    csrf = page.cookies["csrftoken"]
    login = browser.post(
        "/api/v1/auth/login/",
        {
            "username": "carol",
            "password": "a long enough passphrase",
            "csrfmiddlewaretoken": csrf.value,
        },
    )
    assert login.status_code == 302
    session = login.cookies["sessionid"]
    assert session.value
    assert (session["secure"], session["httponly"], session["samesite"]) == (True, True, "Lax")
    for cookie in (csrf, login.cookies["csrftoken"]):
        assert (cookie["secure"], cookie["samesite"]) == (True, "Lax")


def test_the_schema_is_valid_openapi_without_warnings():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi: 3" in out.getvalue()


def test_public_reads_need_no_credentials_in_the_schema(api, settings):
    def security(path: str) -> list:
        schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        return schema["paths"][path]["get"].get("security", [])

    assert security("/api/v1/metrics") == []
    assert {"tokenAuth": []} in security("/api/v1/me")
    settings.TRACKER_PUBLIC_READ = False
    assert {"tokenAuth": []} in security("/api/v1/metrics")


def test_the_served_schema_passes_openapi_spec_validator(api):
    from openapi_spec_validator import validate

    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    validate(schema)  # raises on any violation of the OpenAPI 3 specification


@pytest.mark.parametrize("suffix", ["", "/records", "/buckets", "/records.csv"])
def test_an_id_beyond_any_integer_column_is_a_404(api, suffix):
    huge = 6578856575382362950987315153515577344
    for metric_id in (huge, 2**63, -(2**63) - 1):
        response = api.get(f"/api/v1/metrics/{metric_id}{suffix}")
        assert response.status_code == 404, (metric_id, response.content)
