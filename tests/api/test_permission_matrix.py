"""Every API endpoint, as every kind of caller. A new endpoint fails here until it has a row.

"user" owns the objects in the paths (its own token); "other" is a second ordinary user;
"staff" is a staff user. Owned objects answer 404 to everyone but their owner, so ids do not leak.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern

from tests.api.conftest import client_for
from tests.factories import metric_create
from tracker.accounts.services import token_issue
from tracker.alerts.services import channel_create, rule_create
from tracker.api.urls import urlpatterns
from tracker.common.clock import utc_now
from tracker.markets.services import exchange_get_or_create

ROLES = ("anonymous", "user", "other", "staff")
OPEN = dict.fromkeys(ROLES, 200)
SIGNED_IN = {"anonymous": 401, "user": 200, "other": 200, "staff": 200}
STAFF_CHANGES = {"anonymous": 401, "user": 403, "other": 403, "staff": 200}
STAFF_CREATES = {"anonymous": 401, "user": 403, "other": 403, "staff": 201}
SIGNED_IN_CREATES = {"anonymous": 401, "user": 201, "other": 201, "staff": 201}
OWNED = {"anonymous": 401, "user": 200, "other": 404, "staff": 404}
OWNED_DELETE = {"anonymous": 401, "user": 204, "other": 404, "staff": 404}

MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", ""): OPEN,
    ("GET", "metrics"): OPEN,
    ("GET", "metrics/<int:metric_id>"): OPEN,
    ("GET", "metrics/<int:metric_id>/records"): OPEN,
    ("GET", "metrics/<int:metric_id>/records.csv"): OPEN,
    ("GET", "metrics/<int:metric_id>/buckets"): OPEN,
    ("GET", "metrics/<int:metric_id>/buckets.csv"): OPEN,
    ("GET", "exchanges"): OPEN,
    ("POST", "exchanges"): STAFF_CREATES,
    ("GET", "exchanges/supported"): OPEN,
    ("GET", "exchanges/<str:name>"): OPEN,
    ("PATCH", "exchanges/<str:name>"): STAFF_CHANGES,
    ("GET", "pairs"): OPEN,
    ("POST", "pairs"): {"anonymous": 401, "user": 403, "other": 403, "staff": 201},
    ("GET", "pairs/<int:pair_id>"): OPEN,
    ("PATCH", "pairs/<int:pair_id>"): STAFF_CHANGES,
    ("DELETE", "pairs/<int:pair_id>"): {"anonymous": 401, "user": 403, "other": 403, "staff": 204},
    ("GET", "me"): SIGNED_IN,
    ("POST", "auth/token"): {"anonymous": 401, "user": 201, "other": 201, "staff": 201},
    ("DELETE", "auth/token"): {"anonymous": 401, "user": 204, "other": 204, "staff": 204},
    ("GET", "auth/tokens"): SIGNED_IN,
    ("DELETE", "auth/tokens/<int:token_id>"): {
        "anonymous": 401,
        "user": 204,
        "other": 404,
        "staff": 404,
    },
    ("GET", "channels"): SIGNED_IN,
    ("POST", "channels"): SIGNED_IN_CREATES,
    ("GET", "channels/<int:channel_id>"): OWNED,
    ("PATCH", "channels/<int:channel_id>"): OWNED,
    ("DELETE", "channels/<int:channel_id>"): OWNED_DELETE,
    ("POST", "channels/<int:channel_id>/test"): OWNED,
    ("GET", "alert-rules"): SIGNED_IN,
    ("POST", "alert-rules"): SIGNED_IN_CREATES,
    ("GET", "alert-rules/<int:rule_id>"): OWNED,
    ("PATCH", "alert-rules/<int:rule_id>"): OWNED,
    ("DELETE", "alert-rules/<int:rule_id>"): OWNED_DELETE,
    ("GET", "alerts"): SIGNED_IN,
    ("GET", "stream"): OPEN,
    ("GET", "schema"): OPEN,
    ("GET", "docs"): OPEN,
}
PASSWORDS = {
    "user": "user passphrase 1",
    "other": "other passphrase 2",
    "staff": "staff passphrase 3",
}


def endpoints() -> set[tuple[str, str]]:
    found = set()
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in view.http_method_names:
            if method not in ("options", "head", "trace") and hasattr(view, method):
                found.add((method.upper(), str(pattern.pattern)))
    return found


def test_every_endpoint_has_a_row_in_the_matrix():
    assert endpoints() == set(MATRIX)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "route"), sorted(MATRIX))
def test_permission_matrix(method, route, role, request):
    users = {
        name: User.objects.create_user(name, password=PASSWORDS[name], is_staff=name == "staff")
        for name in ("user", "other", "staff")
    }
    metric = metric_create()
    owned_token = token_issue(user=users["user"], now=utc_now()).token
    # Mail goes to Django's test outbox: the channel's test notification is sent for real.
    owned_channel = channel_create(
        owner=users["user"], fields={"name": "me", "kind": "email", "address": "user@example.org"}
    )
    owned_rule = rule_create(
        owner=users["user"], fields={"name": "spikes", "kind": "price"}, channels=[owned_channel]
    )
    path = "/api/v1/" + (
        route.replace("<int:metric_id>", str(metric.id))
        .replace("<int:pair_id>", str(metric.pair_id))
        .replace("<int:token_id>", str(owned_token.id))
        .replace("<str:name>", metric.pair.exchange.name)
        .replace("<int:channel_id>", str(owned_channel.id))
        .replace("<int:rule_id>", str(owned_rule.id))
    )
    client = client_for(None if role == "anonymous" else users[role])
    body: dict[str, Any] = {}
    if route == "auth/token" and method == "POST":
        body = {"username": role, "password": PASSWORDS.get(role, "no such password")}
    elif route == "exchanges" and method == "POST":
        body = {"name": "bitstamp"}
    elif route.startswith("exchanges/") and method == "PATCH":
        body = {"enabled": False}
    elif route == "channels" and method == "POST":
        body = {"name": "mail", "kind": "email", "address": "me@example.org"}
    elif route == "alert-rules" and method == "POST":
        body = {"name": "volume spikes", "kind": "volume"}
    elif route.startswith(("channels/", "alert-rules/")) and method == "PATCH":
        body = {"name": "renamed"}
    elif method == "PATCH":
        body = {"active": False}
    elif route == "pairs" and method == "POST":
        # Adding a pair asks the exchange for its markets: the stand-in answers.
        kraken = request.getfixturevalue("kraken")
        exchange_get_or_create(name="kraken", base_url=kraken.url)
        body = {"exchange": "kraken", "symbol": "ETH/USD"}

    response = getattr(client, method.lower())(path, body, format="json")

    assert response.status_code == MATRIX[(method, route)][role], response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]
