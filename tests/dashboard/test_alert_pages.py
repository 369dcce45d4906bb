"""The alert pages: a signed-in user's alert history, rules and channels. Each user sees their
own only; forms say what is wrong next to the field and store nothing then; a channel test
reaches a local receiver and says what came of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import metric_create
from tests.fakes.receiver import Receiver
from tracker.alerts import services
from tracker.alerts.models import AlertEvent, AlertRule, Channel, Delivery, DeliveryState, Notice
from tracker.markets.models import Metric

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave() -> User:
    return User.objects.create_user("dave", password="dave's long passphrase")


@pytest.fixture
def erin() -> User:
    return User.objects.create_user("erin", password="erin's long passphrase")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def mail_channel(owner: User, name: str = "mail") -> Channel:
    return services.channel_create(
        owner=owner, fields={"name": name, "kind": "email", "address": f"{owner}@example.org"}
    )


def price_rule(owner: User, name: str = "spikes", **fields) -> AlertRule:
    return services.rule_create(owner=owner, fields={"name": name, "kind": "price", **fields})


RULE = {
    "name": "BTC spikes",
    "kind": "price",
    "direction": "above",
    "factor": "3",
    "window": "1h",
    "min_samples": "10",
    "cooldown": "",
    "muted_until": "",
    "notify_resolved": "on",
    "enabled": "on",
}


PAGES = [
    "/alerts",
    "/alerts/rules",
    "/alerts/rules/new",
    "/alerts/rules/1",
    "/alerts/rules/1/delete",
    "/alerts/channels",
    "/alerts/channels/new",
    "/alerts/channels/1",
    "/alerts/channels/1/delete",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login?next={path}"


def test_anonymous_posts_change_nothing(client, dave):
    channel = mail_channel(dave)
    for path in (f"/alerts/channels/{channel.id}/delete", f"/alerts/channels/{channel.id}/test"):
        response = client.post(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login?next=")
    assert Channel.objects.filter(id=channel.id).exists()


# --- the history --------------------------------------------------------------------------


def _events(owner: User, count: int, metric: Metric | None = None) -> list[AlertEvent]:
    metric = metric or metric_create()
    rule = services.rule_create(owner=owner, fields={"name": f"{owner} rule"}, metrics=[metric])
    channel = mail_channel(owner, name=f"{owner} mail")
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
            event=event,
            channel=channel,
            notice=Notice.FIRING,
            created_at=start,
            state=DeliveryState.FAILED,
            last_error="mailbox full",
        )
        made.append(event)
    return made


def test_the_history_shows_each_alert_with_its_deliveries(dave, erin):
    (event,) = _events(dave, 1)
    _events(erin, 1, metric=event.metric)
    page = signed_in(dave).get("/alerts")
    assert page.status_code == 200
    body = text(page)
    assert f'href="/metrics/{event.metric_id}"' in body
    assert "BTC/USD price" in body and "dave rule" in body
    assert "300" in body and "100" in body and "\u00d73" in body
    assert "dave mail: firing" in body and "failed" in body and "mailbox full" in body
    assert "2026-05-01 00:00:00" in body and "2026-05-01 00:05:00" in body
    assert "erin rule" not in body
    assert 'href="/alerts/rules"' in body and 'href="/alerts/channels"' in body


def test_the_history_is_newest_first_in_pages(dave):
    made = _events(dave, 53)
    client = signed_in(dave)
    first = text(client.get("/alerts"))
    ids = [int(found) for found in re.findall(r'id="event-(\d+)"', first)]
    assert ids == [event.id for event in reversed(made)][:50]
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older is not None
    second = text(client.get(unescape(older.group(1))))
    ids += [int(found) for found in re.findall(r'id="event-(\d+)"', second)]
    assert ids == [event.id for event in reversed(made)]
    assert 'rel="next"' not in second


def test_a_forged_cursor_shows_the_newest_with_a_message(dave):
    _events(dave, 1)
    page = signed_in(dave).get("/alerts", {"cursor": "forged"})
    assert page.status_code == 200
    assert "not valid" in text(page)


def test_another_users_rule_filter_shows_nothing(dave, erin):
    (event,) = _events(erin, 1)
    body = text(signed_in(dave).get("/alerts", {"rule": str(event.rule_id)}))
    assert f'id="event-{event.id}"' not in body
    assert "erin rule" not in body


# --- rules --------------------------------------------------------------------------------


def test_a_rule_is_created_and_listed(dave):
    channel = mail_channel(dave)
    client = signed_in(dave)
    assert client.get("/alerts/rules/new").status_code == 200
    response = client.post("/alerts/rules/new", {**RULE, "channels": [str(channel.id)]})
    assert response.status_code == 302, text(response)
    assert response["Location"] == "/alerts/rules"
    rule = AlertRule.objects.get(owner=dave)
    assert (rule.name, rule.kind, rule.factor, rule.window_seconds) == (
        "BTC spikes",
        "price",
        3.0,
        3600,
    )
    assert list(rule.channels.all()) == [channel]
    listed = text(client.get("/alerts/rules"))
    assert "Rule “BTC spikes” created." in listed
    assert "BTC spikes" in listed and "every price metric" in listed and "mail" in listed


def test_a_rule_on_chosen_metrics(dave):
    metric = metric_create()
    client = signed_in(dave)
    form = text(client.get(f"/alerts/rules/new?metric={metric.id}"))
    assert f'<option value="{metric.id}" selected>' in form
    response = client.post(
        "/alerts/rules/new", {**RULE, "kind": "", "metrics": [str(metric.id)], "window": "30m"}
    )
    assert response.status_code == 302, text(response)
    rule = AlertRule.objects.get(owner=dave)
    assert list(rule.metrics.all()) == [metric]
    assert rule.window_seconds == 1800
    listed = text(client.get("/alerts/rules"))
    assert f'<a href="/metrics/{metric.id}">BTC/USD price on kraken</a>' in listed


def test_a_rule_is_edited_with_its_values_shown(dave):
    rule = price_rule(dave, factor=4.5, window_seconds=7200, cooldown_seconds=600)
    client = signed_in(dave)
    form = text(client.get(f"/alerts/rules/{rule.id}"))
    assert 'value="4.5"' in form and 'value="2h"' in form and 'value="10m"' in form
    response = client.post(
        f"/alerts/rules/{rule.id}",
        {**RULE, "name": "renamed", "factor": "5", "direction": "below", "enabled": ""},
    )
    assert response.status_code == 302, text(response)
    rule.refresh_from_db()
    assert (rule.name, rule.factor, rule.direction, rule.enabled) == (
        "renamed",
        5.0,
        "below",
        False,
    )
    assert rule.cooldown_seconds is None
    assert "disabled" in text(client.get("/alerts/rules"))


def test_a_rule_is_deleted_after_a_confirmation(dave):
    rule = price_rule(dave)
    client = signed_in(dave)
    confirm = client.get(f"/alerts/rules/{rule.id}/delete")
    assert confirm.status_code == 200
    assert "spikes" in text(confirm) and 'method="post"' in text(confirm)
    assert AlertRule.objects.filter(id=rule.id).exists()
    response = client.post(f"/alerts/rules/{rule.id}/delete")
    assert response.status_code == 302
    assert not AlertRule.objects.filter(id=rule.id).exists()
    assert "deleted" in text(client.get("/alerts/rules"))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"factor": "NaN"}, "factor", "A valid number is required"),
        ({"factor": "inf"}, "factor", "A valid number is required"),
        ({"factor": "1e999"}, "factor", "A valid number is required"),
        ({"factor": "-3"}, "factor", "Expected a number above 1"),
        ({"factor": "three"}, "factor", "A valid number is required"),
        ({"factor": "9" * 5000}, "factor", "A valid number is required"),
        ({"window": "2d"}, "window", "Expected a length such as 30m"),
        ({"window": "\uff11h"}, "window", "Expected a length such as 30m"),
        ({"cooldown": "-5m"}, "cooldown", "Expected a length such as 30m"),
        ({"min_samples": "0"}, "min_samples", "greater than or equal to 1"),
        ({"min_samples": "9" * 30}, "min_samples", "less than or equal to"),
        ({"min_samples": "ten"}, "min_samples", "A valid integer is required"),
        ({"name": ""}, "name", "may not be blank"),
        ({"name": "ü" * 101}, "name", "no more than 100 characters"),
        ({"name": "a\x00b"}, "name", "Null characters are not allowed"),
        ({"direction": "sideways"}, "direction", "is not a valid choice"),
        ({"kind": "temperature"}, "kind", "is not a valid choice"),
        ({"kind": ""}, "metrics", "Give either metrics"),
        ({"metrics": ["99999999999999999999999"]}, "metrics", "object does not exist"),
        ({"metrics": ["x"]}, "metrics", "Incorrect type"),
        ({"muted_until": "next tuesday"}, "muted_until", "Datetime has wrong format"),
        ({"muted_until": "9999-12-31T23:59"}, "muted_until", ""),
    ],
)
def test_a_bad_rule_says_what_is_wrong_and_stores_nothing(dave, changes, field, message):
    response = signed_in(dave).post("/alerts/rules/new", {**RULE, **changes})
    if field == "muted_until" and not message:  # far but valid: accepted, not a 500
        assert response.status_code == 302
        return
    assert response.status_code == 400
    body = text(response)
    errors = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', body, re.S)
    assert errors is not None, body
    assert message in errors.group(1)
    assert not AlertRule.objects.exists()
    typed = changes.get("name")
    if typed and "\x00" not in typed:
        assert f'value="{typed}"' in body  # what was typed is kept


def test_a_rule_keeps_what_was_typed(dave):
    body = text(signed_in(dave).post("/alerts/rules/new", {**RULE, "factor": "1", "window": "7x"}))
    assert 'value="1"' in body and 'value="7x"' in body and 'value="BTC spikes"' in body


def test_a_rule_cannot_use_another_users_channel(dave, erin):
    theirs = mail_channel(erin)
    form = text(signed_in(dave).get("/alerts/rules/new"))
    assert f'value="{theirs.id}"' not in form
    response = signed_in(dave).post("/alerts/rules/new", {**RULE, "channels": [str(theirs.id)]})
    assert response.status_code == 400
    assert "object does not exist" in text(response)
    assert not AlertRule.objects.exists()


# --- ownership ----------------------------------------------------------------------------


def test_another_users_rule_and_channel_are_404s(dave, erin):
    rule, channel = price_rule(erin), mail_channel(erin)
    client = signed_in(dave)
    paths = [
        f"/alerts/rules/{rule.id}",
        f"/alerts/rules/{rule.id}/delete",
        f"/alerts/channels/{channel.id}",
        f"/alerts/channels/{channel.id}/delete",
    ]
    for path in paths:
        assert client.get(path).status_code == 404
        assert (
            client.post(path, {**RULE, "kind": "email", "address": "x@example.org"}).status_code
            == 404
        )
    assert client.post(f"/alerts/channels/{channel.id}/test").status_code == 404
    assert AlertRule.objects.get(id=rule.id).name == "spikes"
    assert Channel.objects.get(id=channel.id).name == "mail"
    page = client.get(f"/alerts/rules/{rule.id}")
    assert "Not found" in text(page)
    listed = text(client.get("/alerts/rules")) + text(client.get("/alerts/channels"))
    assert "spikes" not in listed and f'href="/alerts/channels/{channel.id}"' not in listed


@pytest.mark.parametrize("number", ["0", str(2**63), "9" * 40])
def test_ids_beyond_any_row_are_404s(dave, number):
    client = signed_in(dave)
    assert client.get(f"/alerts/rules/{number}").status_code == 404
    assert client.post(f"/alerts/channels/{number}/test").status_code == 404


# --- channels -----------------------------------------------------------------------------


def test_a_webhook_channel_is_created_tested_and_its_secret_never_shown(dave, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    client = signed_in(dave)
    form = text(client.get("/alerts/channels/new"))
    assert 'data-kinds="webhook slack"' in form and "channel-form.js" in form
    with Receiver("webhook") as receiver:
        created = client.post(
            "/alerts/channels/new",
            {"name": "hook", "kind": "webhook", "url": receiver.url + "/t", "secret": "s3cr3t"},
        )
        assert created.status_code == 302, text(created)
        channel = Channel.objects.get(owner=dave)
        assert (channel.url, channel.secret, channel.address) == (receiver.url + "/t", "s3cr3t", "")
        edit = text(client.get(f"/alerts/channels/{channel.id}"))
        assert "s3cr3t" not in edit and "A secret is set" in edit
        tested = client.post(f"/alerts/channels/{channel.id}/test", follow=True)
        (received,) = receiver.wait_for(1)
    assert received.path == "/t"
    assert received.headers["x-tracker-signature"].startswith("sha256=")
    assert "Test sent to “hook”" in text(tested)
    assert "s3cr3t" not in text(tested)


def test_a_failed_test_says_why_and_marks_the_channel_broken(dave, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    with Receiver("slack") as slack:
        slack.answer(404, b"no_service")
        channel = services.channel_create(
            owner=dave, fields={"name": "ops", "kind": "slack", "url": slack.url + "/hook"}
        )
        page = signed_in(dave).post(f"/alerts/channels/{channel.id}/test", follow=True)
    body = text(page)
    assert "The test to “ops” failed" in body and "no_service" in body
    assert "marked broken" in body
    assert '<span class="badge broken">broken</span>' in body
    channel.refresh_from_db()
    assert channel.broken_at is not None and channel.broken_reason in body


def test_a_loopback_url_is_refused_without_the_private_setting(dave, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = False
    response = signed_in(dave).post(
        "/alerts/channels/new",
        {"name": "hook", "kind": "webhook", "url": "https://127.0.0.1:9/hook", "secret": ""},
    )
    assert response.status_code == 400
    body = text(response)
    errors = re.search(r'<ul class="errorlist" id="id_url_error">(.*?)</ul>', body, re.S)
    assert errors is not None and "127.0.0.1" in errors.group(1)
    assert 'value="https://127.0.0.1:9/hook"' in body
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "email", "address": "not an address"}, "address", "e-mail address"),
        ({"kind": "pagerduty", "routing_key": ""}, "routing_key", "routing key"),
        ({"kind": "slack", "url": ""}, "url", "needs a URL"),
        ({"kind": "carrier pigeon"}, "kind", "is not a valid choice"),
        ({"kind": "email", "address": "a@example.org", "name": ""}, "name", "may not be blank"),
        ({"kind": "webhook", "url": "https://" + "a" * 3000}, "url", "2000 characters"),
        ({"kind": "webhook", "url": "https://bücher.invalid/\u202e"}, "url", ""),
    ],
)
def test_a_bad_channel_says_what_is_wrong_and_stores_nothing(dave, fields, field, message):
    response = signed_in(dave).post("/alerts/channels/new", {"name": "c", **fields})
    assert response.status_code == 400
    errors = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', text(response), re.S
    )
    assert errors is not None, text(response)
    assert message in errors.group(1)
    assert not Channel.objects.exists()


def test_editing_a_channel_keeps_the_secret_and_a_new_destination_clears_broken(dave, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    channel = services.channel_create(
        owner=dave,
        fields={"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/a", "secret": "k"},
    )
    Channel.objects.filter(id=channel.id).update(
        broken_at=datetime(2026, 1, 1, tzinfo=UTC), broken_reason="gone"
    )
    client = signed_in(dave)
    renamed = client.post(
        f"/alerts/channels/{channel.id}",
        {"name": "renamed", "kind": "webhook", "url": "http://127.0.0.1:9/a", "secret": ""},
    )
    assert renamed.status_code == 302, text(renamed)
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("renamed", "k")
    assert channel.broken_at is not None  # the same destination: still broken
    moved = client.post(
        f"/alerts/channels/{channel.id}",
        {"name": "renamed", "kind": "webhook", "url": "http://127.0.0.1:9/b", "secret_clear": "on"},
    )
    assert moved.status_code == 302, text(moved)
    channel.refresh_from_db()
    assert (channel.url, channel.secret, channel.broken_at) == ("http://127.0.0.1:9/b", "", None)


def test_changing_the_kind_drops_the_old_destination(dave, settings):
    settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS = True
    channel = services.channel_create(
        owner=dave,
        fields={"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/a", "secret": "k"},
    )
    response = signed_in(dave).post(
        f"/alerts/channels/{channel.id}",
        {
            "name": "hook",
            "kind": "email",
            "url": "http://127.0.0.1:9/a",
            "address": "d@example.org",
        },
    )
    assert response.status_code == 302, text(response)
    channel.refresh_from_db()
    assert (channel.kind, channel.address, channel.url, channel.secret) == (
        "email",
        "d@example.org",
        "",
        "",
    )


def test_a_channel_is_deleted_after_a_confirmation(dave):
    channel = mail_channel(dave)
    client = signed_in(dave)
    assert client.get(f"/alerts/channels/{channel.id}/delete").status_code == 200
    assert client.post(f"/alerts/channels/{channel.id}/delete").status_code == 302
    assert not Channel.objects.exists()
    assert "Channel “mail” deleted." in text(client.get("/alerts/channels"))


def test_the_channel_list_shows_the_broken_marker_with_its_reason(dave):
    channel = mail_channel(dave)
    Channel.objects.filter(id=channel.id).update(
        broken_at=datetime(2026, 1, 1, tzinfo=UTC), broken_reason="550 no such user"
    )
    body = text(signed_in(dave).get("/alerts/channels"))
    assert '<span class="badge broken">broken</span>' in body and "550 no such user" in body
    assert f'action="/alerts/channels/{channel.id}/test"' in body


def test_test_notifications_share_the_apis_per_user_limit(dave, mailoutbox, throttle_rates):
    throttle_rates(channel_test="2/min")
    channel = mail_channel(dave)
    client = signed_in(dave)
    pages = [
        text(client.post(f"/alerts/channels/{channel.id}/test", follow=True)) for _ in range(2)
    ]
    assert all("Test sent to “mail”" in page for page in pages)
    refused = text(client.post(f"/alerts/channels/{channel.id}/test", follow=True))
    assert "Too many test notifications" in refused
    assert len(mailoutbox) == 2


def test_the_channel_test_is_post_only(dave):
    channel = mail_channel(dave)
    assert signed_in(dave).get(f"/alerts/channels/{channel.id}/test").status_code == 405
