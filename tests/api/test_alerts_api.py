"""Channels, alert rules and alert events through the API: each user sees only their own,
secrets are never read back, and every bad value is a 400 naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from tests.api.conftest import client_for
from tests.factories import metric_create
from tracker.alerts import services
from tracker.alerts.models import AlertEvent, Channel, Delivery, Notice

pytestmark = pytest.mark.django_db

HOOK = {"name": "hook", "kind": "webhook", "url": "https://hooks.example.org/t", "secret": "s3"}


@pytest.fixture
def dave() -> User:
    return User.objects.create_user("dave", password="dave's long passphrase")


@pytest.fixture
def erin() -> User:
    return User.objects.create_user("erin", password="erin's long passphrase")


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.org resolves to a public address, without asking a resolver."""
    import socket

    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "hooks.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
        if host == "internal.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_a_channel_is_created_and_its_secret_never_read_back(dave, public_dns):
    api = client_for(dave)
    created = api.post("/api/v1/channels", HOOK, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert "secret" not in body
    assert body["broken"] is False
    listed = api.get("/api/v1/channels").json()
    assert [c["id"] for c in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert Channel.objects.get(id=body["id"]).secret == "s3"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://internal.example.org/hook",
        "http://hooks.example.org/hook",
        "ftp://hooks.example.org/hook",
        "not a url",
    ],
)
def test_a_channel_url_to_a_private_or_plain_address_is_refused(dave, public_dns, url, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = False
    refused = client_for(dave).post("/api/v1/channels", {**HOOK, "url": url}, format="json")
    assert refused.status_code == 400, refused.content
    assert "url" in refused.json()
    assert Channel.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": "m", "kind": "email", "address": "not an address"}, "address"),
        ({"name": "p", "kind": "pagerduty"}, "routing_key"),
        ({"name": "s", "kind": "slack"}, "url"),
        ({"name": "x", "kind": "carrier pigeon"}, "kind"),
        ({"kind": "email", "address": "a@example.org"}, "name"),
    ],
)
def test_a_channel_missing_what_its_kind_needs_is_refused(dave, fields, named):
    refused = client_for(dave).post("/api/v1/channels", fields, format="json")
    assert refused.status_code == 400
    assert named in refused.json()


def test_another_users_objects_do_not_exist(dave, erin, public_dns):
    channel = services.channel_create(owner=dave, fields={**HOOK})
    rule = services.rule_create(owner=dave, fields={"name": "r", "kind": "price"})
    as_erin = client_for(erin)
    for path in (f"/api/v1/channels/{channel.id}", f"/api/v1/alert-rules/{rule.id}"):
        assert as_erin.get(path).status_code == 404
        assert as_erin.patch(path, {"name": "mine"}, format="json").status_code == 404
        assert as_erin.delete(path).status_code == 404
    assert as_erin.post(f"/api/v1/channels/{channel.id}/test").status_code == 404
    # Nor can a rule of hers notify his channel.
    refused = as_erin.post(
        "/api/v1/alert-rules",
        {"name": "r", "kind": "price", "channels": [channel.id]},
        format="json",
    )
    assert refused.status_code == 400
    assert "channels" in refused.json()
    assert as_erin.get("/api/v1/channels").json() == []
    assert as_erin.get("/api/v1/alert-rules").json() == []


def test_a_rule_round_trips_with_its_defaults(dave, public_dns):
    api = client_for(dave)
    channel = api.post("/api/v1/channels", HOOK, format="json").json()
    metric = metric_create()
    created = api.post(
        "/api/v1/alert-rules",
        {"name": "BTC spikes", "metrics": [metric.id], "channels": [channel["id"]]},
        format="json",
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["factor"] == 3.0
    assert (rule["window"], rule["cooldown"], rule["min_samples"]) == ("1h", None, 10)
    assert (rule["direction"], rule["enabled"], rule["notify_resolved"]) == ("above", True, True)
    assert (rule["metrics"], rule["channels"]) == ([metric.id], [channel["id"]])
    changed = api.patch(
        f"/api/v1/alert-rules/{rule['id']}",
        {"window": "30m", "cooldown": "2h", "factor": 5},
        format="json",
    ).json()
    assert (changed["window"], changed["cooldown"], changed["factor"]) == ("30m", "2h", 5.0)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": "r"}, "metrics"),
        ({"name": "r", "kind": "price", "metrics": [1]}, "metrics"),
        ({"name": "r", "kind": "price", "factor": 1}, "factor"),
        ({"name": "r", "kind": "price", "factor": "Infinity"}, "factor"),
        ({"name": "r", "kind": "price", "factor": 1e300}, "factor"),
        ({"name": "r", "kind": "price", "window": "30s"}, "window"),
        ({"name": "r", "kind": "price", "window": "2d"}, "window"),
        ({"name": "r", "kind": "price", "window": "\uff11h"}, "window"),
        ({"name": "r", "kind": "price", "cooldown": "forever"}, "cooldown"),
        ({"name": "r", "kind": "price", "min_samples": 0}, "min_samples"),
        ({"name": "r", "metrics": [2**70]}, "metrics"),
        ({"name": "r", "metrics": [999999]}, "metrics"),
        ({"name": "r", "kind": "price", "channels": [2**63]}, "channels"),
        ({"name": "r", "kind": "price", "muted_until": "9999-12-31T23:59:59-14:00"}, "muted_until"),
        ({"name": "r", "kind": "price", "direction": "sideways"}, "direction"),
        ({"name": "r", "kind": "price", "enabled": 0}, "enabled"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(dave, fields, named):
    if fields.get("metrics") == [1]:
        fields = {**fields, "metrics": [metric_create().id]}
    refused = client_for(dave).post("/api/v1/alert-rules", fields, format="json")
    assert refused.status_code == 400, refused.content
    assert named in refused.json()


def test_changing_where_a_broken_channel_points_clears_the_mark(dave, public_dns):
    channel = services.channel_create(owner=dave, fields={**HOOK})
    Channel.objects.filter(id=channel.id).update(
        broken_at=datetime.now(UTC), broken_reason="404 no_service"
    )
    api = client_for(dave)
    assert api.get(f"/api/v1/channels/{channel.id}").json()["broken"] is True
    assert api.patch(f"/api/v1/channels/{channel.id}", {"name": "n"}, format="json").json()[
        "broken"
    ]
    fixed = api.patch(
        f"/api/v1/channels/{channel.id}", {"url": "https://hooks.example.org/new"}, format="json"
    ).json()
    assert fixed["broken"] is False


def test_the_channel_test_sends_and_says_what_came_of_it(dave, mailoutbox):
    channel = services.channel_create(
        owner=dave, fields={"name": "mail", "kind": "email", "address": "dave@example.org"}
    )
    answer = client_for(dave).post(f"/api/v1/channels/{channel.id}/test")
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert [m.to for m in mailoutbox] == [["dave@example.org"]]


def _events(owner: User, count: int) -> list[AlertEvent]:
    metric = metric_create()
    rule = services.rule_create(owner=owner, fields={"name": "r"}, metrics=[metric])
    channel = services.channel_create(
        owner=owner, fields={"name": "m", "kind": "email", "address": "o@example.org"}
    )
    start = datetime(2026, 5, 1, tzinfo=UTC)
    made = []
    for i in range(count):
        event = AlertEvent.objects.create(
            rule=rule,
            metric=metric,
            value=300.0 + i,
            average=100.0,
            factor=3.0,
            direction="above",
            window_seconds=3600,
            fired_at=start + timedelta(hours=i),
            resolved_at=start + timedelta(hours=i, minutes=5),
        )
        Delivery.objects.create(
            event=event, channel=channel, notice=Notice.FIRING, created_at=start
        )
        made.append(event)
    return made


def test_alerts_are_listed_newest_first_in_pages(dave, erin):
    made = _events(dave, 5)
    api = client_for(dave)
    first = api.get("/api/v1/alerts", {"limit": 2})
    assert first.status_code == 200
    assert [e["id"] for e in first.json()] == [made[4].id, made[3].id]
    assert first.json()[0]["deliveries"][0]["state"] == "pending"
    assert first.json()[0]["window"] == "1h"
    seen = [e["id"] for e in first.json()]
    cursor: str | None = first["X-Next-Cursor"]
    while cursor:
        page = api.get("/api/v1/alerts", {"limit": "2", "cursor": cursor})
        seen += [e["id"] for e in page.json()]
        cursor = page.get("X-Next-Cursor")
    assert seen == [e.id for e in reversed(made)]
    assert client_for(erin).get("/api/v1/alerts").json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"rule": "x"},
        {"metric": "99999999999999999999999"},
        {"since": "yesterday"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"cursor": "forged"},
    ],
)
def test_bad_alert_list_parameters_are_400s(dave, params):
    answer = client_for(dave).get("/api/v1/alerts", params)
    assert answer.status_code == 400
    assert set(answer.json()) & set(params)


def test_test_notifications_are_limited_per_user(dave, mailoutbox, throttle_rates):
    throttle_rates(channel_test="2/min")
    channel = services.channel_create(
        owner=dave, fields={"name": "mail", "kind": "email", "address": "dave@example.org"}
    )
    api = client_for(dave)
    codes = [api.post(f"/api/v1/channels/{channel.id}/test").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert len(mailoutbox) == 2


def test_a_rule_whose_metrics_are_gone_can_still_be_switched_off(dave):
    metric = metric_create()
    rule = services.rule_create(owner=dave, fields={"name": "r"}, metrics=[metric])
    metric.pair.delete()  # purged with its metrics
    api = client_for(dave)
    changed = api.patch(f"/api/v1/alert-rules/{rule.id}", {"enabled": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["metrics"] == []
    refused = api.patch(f"/api/v1/alert-rules/{rule.id}", {"metrics": []}, format="json")
    assert refused.status_code == 400
