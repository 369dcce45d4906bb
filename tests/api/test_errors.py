"""The shape of every error: field errors are lists under the field's name, the rest `detail`."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import metric_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "offered"),
    [("/api/v1/metrics/{id}/records", "json, api, csv"), ("/api/v1/metrics", "json, api")],
)
@pytest.mark.parametrize("value", ["xml", "", "JSON", "csv\u0000", "\u00e9" * 3000])
def test_an_unknown_format_is_a_400_listing_the_formats_offered(api, path, offered, value):
    metric = metric_create()
    response = api.get(path.format(id=metric.id), {"format": value})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    (message,) = response.json()["format"]
    assert list(response.json()) == ["format"]
    assert f"Expected one of {offered}" in message
    assert len(message) < 200


@pytest.mark.parametrize("value", ["json", "csv", "api"])
def test_the_formats_offered_are_served(api, value):
    metric = metric_create()
    assert api.get(f"/api/v1/metrics/{metric.id}/records", {"format": value}).status_code == 200


def test_query_parameter_errors_are_lists_like_serializer_errors(api):
    metric = metric_create()
    query = api.get(f"/api/v1/metrics/{metric.id}/records", {"since": "yesterday"}).json()
    body = api.post("/api/v1/auth/token", {"username": "alice"}, format="json").json()
    assert query == {
        "since": ["Expected ISO 8601 (2024-01-31T12:00:00Z) or unix seconds, got 'yesterday'."]
    }
    assert body == {"password": ["This field is required."]}


def test_errors_without_a_field_are_a_detail_string(staff):
    browser = APIClient()
    browser.force_login(staff)
    response = browser.delete("/api/v1/auth/token")
    assert response.status_code == 400
    assert response.json() == {"detail": "Send the token to revoke in the Authorization header."}


@pytest.mark.parametrize("body", ["[]", '["username", "password"]', "1", '"text"', "null"])
def test_a_body_that_is_not_an_object_is_a_400_with_detail(api, body):
    response = api.post("/api/v1/auth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["detail"]
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("query", ["", "?format=csv", "?format=xml"])
@pytest.mark.parametrize(
    ("path", "name"), [("records", "Metric Records"), ("records.csv", "Metric Records Csv")]
)
def test_options_describes_the_endpoint_in_json_whatever_the_format(api, query, path, name):
    metric = metric_create()
    response = api.options(f"/api/v1/metrics/{metric.id}/{path}{query}", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"] == name
