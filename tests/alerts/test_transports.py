"""Each channel transport against a local receiver or SMTP server: what it sends, and which
failures are permanent (retrying cannot help) and which transient."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alerts.samples import FIRING
from tests.fakes.receiver import Receiver
from tests.fakes.smtp import SMTPServer
from tracker.alerts.transports.base import Destination, TransportError
from tracker.alerts.transports.email import EmailTransport
from tracker.alerts.transports.pagerduty import PagerDutyTransport
from tracker.alerts.transports.registry import KINDS, transport_for
from tracker.alerts.transports.slack import SlackTransport
from tracker.alerts.transports.webhook import WebhookTransport

RESOLVED = replace(
    FIRING,
    status="resolved",
    value=20_500.0,
    resolved_at=datetime(2024, 3, 1, 10, 30, tzinfo=UTC),
)


def destination(kind: str, **fields: Any) -> Destination:
    values: dict[str, Any] = {"url": None, "address": None, "routing_key": None, "secret": None}
    return Destination(kind=kind, **{**values, **fields})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    with Receiver("webhook") as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with Receiver("slack") as fake:
        yield fake


@pytest.fixture
def pagerduty(settings: Any) -> Iterator[Receiver]:
    with Receiver("pagerduty") as fake:
        settings.TRACKER_PAGERDUTY_URL = f"{fake.url}/v2/enqueue"
        yield fake


@pytest.fixture
def smtp(settings: Any) -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 2
        settings.DEFAULT_FROM_EMAIL = "alerts@tracker.test"
        yield server


# --- the registry -------------------------------------------------------------------------------


def test_every_kind_has_its_transport() -> None:
    assert KINDS == ("slack", "webhook", "email", "pagerduty")
    expected = {
        "slack": SlackTransport,
        "webhook": WebhookTransport,
        "email": EmailTransport,
        "pagerduty": PagerDutyTransport,
    }
    for kind in KINDS:
        assert type(transport_for(destination(kind), allow_private=False)) is expected[kind]


def test_an_unknown_kind_is_permanent() -> None:
    with pytest.raises(TransportError, match="unknown channel kind 'carrier-pigeon'") as caught:
        transport_for(destination("carrier-pigeon"), allow_private=False)
    assert caught.value.permanent


# --- webhook ------------------------------------------------------------------------------------


def test_webhook_posts_the_documented_body_signed(webhook: Receiver) -> None:
    hook = destination("webhook", url=f"{webhook.url}/alerts", secret="s3cret")
    description = transport_for(hook, allow_private=True).notify(FIRING)
    assert description.startswith("200")

    [request] = webhook.requests
    assert request.path == "/alerts"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "crypto-tracker"
    body = request.json()
    assert body == {
        "status": "firing",
        "rule": {"id": 7, "name": "BTC spike"},
        "metric": {"id": 42, "pair": "BTC/USD", "metric": "price", "exchange": "kraken"},
        "value": 68_340.0,
        "average": 20_100.0,
        "factor": 3.0,
        "direction": "above",
        "window": "1h",
        "fired_at": "2024-03-01T10:00:05Z",
        "resolved_at": None,
    }
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-tracker-signature"] == f"sha256={expected}"


def test_webhook_without_a_secret_is_not_signed(webhook: Receiver) -> None:
    WebhookTransport(destination("webhook", url=webhook.url), allow_private=True).notify(RESOLVED)
    [request] = webhook.requests
    assert "x-tracker-signature" not in request.headers
    assert request.json()["resolved_at"] == "2024-03-01T10:30:00Z"


def test_a_5xx_is_transient_and_the_next_try_succeeds(webhook: Receiver) -> None:
    webhook.fail(1, status=500)
    transport = WebhookTransport(destination("webhook", url=webhook.url), allow_private=True)
    with pytest.raises(TransportError, match="500") as caught:
        transport.notify(FIRING)
    assert (caught.value.permanent, caught.value.status) == (False, 500)
    assert transport.notify(FIRING).startswith("200")


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (401, True), (408, False),
                                                   (429, False), (503, False)])  # fmt: skip
def test_statuses_sort_into_permanent_and_transient(
    webhook: Receiver, status: int, permanent: bool
) -> None:
    webhook.answer(status, b"nope")
    transport = WebhookTransport(destination("webhook", url=webhook.url), allow_private=True)
    with pytest.raises(TransportError) as caught:
        transport.notify(FIRING)
    assert (caught.value.permanent, caught.value.status) == (permanent, status)


def test_a_redirect_is_permanent_and_not_followed(webhook: Receiver) -> None:
    with Receiver("webhook") as elsewhere:
        webhook.redirect(elsewhere.url)
        transport = WebhookTransport(destination("webhook", url=webhook.url), allow_private=True)
        with pytest.raises(TransportError, match="redirect") as caught:
            transport.notify(FIRING)
        assert caught.value.permanent
        assert elsewhere.requests == []


def test_a_timeout_is_transient(webhook: Receiver) -> None:
    webhook.delay(5.0)
    transport = WebhookTransport(
        destination("webhook", url=webhook.url), allow_private=True, timeout=0.3
    )
    with pytest.raises(TransportError) as caught:
        transport.notify(FIRING)
    assert not caught.value.permanent


def test_a_refused_connection_is_transient() -> None:
    hook = destination("webhook", url=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(TransportError) as caught:
        WebhookTransport(hook, allow_private=True).notify(FIRING)
    assert not caught.value.permanent


def test_an_unsafe_url_is_permanent(webhook: Receiver) -> None:
    hook = destination("webhook", url=f"https://127.0.0.1:{webhook.port}/")
    with pytest.raises(TransportError, match="loopback") as caught:
        WebhookTransport(hook, allow_private=False).notify(FIRING)
    assert caught.value.permanent
    assert webhook.requests == []


def test_a_destination_without_url_is_permanent() -> None:
    with pytest.raises(TransportError, match="no URL") as caught:
        WebhookTransport(destination("webhook"), allow_private=True).notify(FIRING)
    assert caught.value.permanent


# --- Slack --------------------------------------------------------------------------------------


def test_slack_gets_the_summary_and_the_numbers(slack: Receiver) -> None:
    description = SlackTransport(
        destination("slack", url=f"{slack.url}/services/T0/B0/x"), allow_private=True
    ).notify(FIRING)
    assert description == "200 ok"
    payload = slack.requests[0].json()
    assert "BTC/USD" in payload["text"]
    assert "3.4x" in payload["text"]
    assert "&gt;" in payload["text"]  # Slack's mrkdwn wants <, > and & escaped
    fields = " ".join(field["text"] for field in payload["blocks"][1]["fields"])
    for fact in ("68,340", "20,100", "3 (above)", "1h", "2024-03-01T10:00:05Z"):
        assert fact in fields


def test_slack_no_service_is_permanent(slack: Receiver) -> None:
    slack.answer(404, b"no_service")
    with pytest.raises(TransportError, match="no_service") as caught:
        SlackTransport(destination("slack", url=slack.url), allow_private=True).notify(FIRING)
    assert (caught.value.permanent, caught.value.status) == (True, 404)


def test_slack_rate_limit_is_transient(slack: Receiver) -> None:
    slack.answer(429, b"rate_limited", times=1)
    transport = SlackTransport(destination("slack", url=slack.url), allow_private=True)
    with pytest.raises(TransportError) as caught:
        transport.notify(FIRING)
    assert not caught.value.permanent
    assert transport.notify(FIRING) == "200 ok"


# --- PagerDuty ----------------------------------------------------------------------------------


def test_pagerduty_triggers_then_resolves_the_same_incident(pagerduty: Receiver) -> None:
    transport = PagerDutyTransport(
        destination("pagerduty", routing_key="R0UT1NG"), allow_private=True
    )
    assert transport.notify(FIRING).startswith("202")
    assert transport.notify(RESOLVED).startswith("202")

    trigger, resolve = (request.json() for request in pagerduty.wait_for(2))
    assert pagerduty.requests[0].path == "/v2/enqueue"
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == "R0UT1NG"
    assert trigger["dedup_key"] == "tracker-rule7-metric42"
    assert trigger["payload"]["source"] == "crypto-tracker"
    assert trigger["payload"]["severity"] == "warning"
    assert trigger["payload"]["timestamp"] == "2024-03-01T10:00:05Z"
    assert "BTC/USD" in trigger["payload"]["summary"]
    assert trigger["payload"]["custom_details"] == FIRING.as_json()
    assert resolve == {
        "routing_key": "R0UT1NG",
        "event_action": "resolve",
        "dedup_key": "tracker-rule7-metric42",
    }


def test_pagerduty_bad_request_is_permanent(pagerduty: Receiver) -> None:
    pagerduty.answer(400, b'{"status":"invalid event"}', content_type="application/json")
    transport = PagerDutyTransport(destination("pagerduty", routing_key="bad"), allow_private=True)
    with pytest.raises(TransportError, match="invalid event") as caught:
        transport.notify(FIRING)
    assert caught.value.permanent


def test_pagerduty_url_goes_through_the_guard(pagerduty: Receiver) -> None:
    transport = PagerDutyTransport(destination("pagerduty", routing_key="R"), allow_private=False)
    with pytest.raises(TransportError, match="only https") as caught:
        transport.notify(FIRING)
    assert caught.value.permanent
    assert pagerduty.requests == []


def test_pagerduty_needs_a_routing_key(pagerduty: Receiver) -> None:
    with pytest.raises(TransportError, match="routing key") as caught:
        PagerDutyTransport(destination("pagerduty"), allow_private=True).notify(FIRING)
    assert caught.value.permanent


# --- email --------------------------------------------------------------------------------------


def test_email_arrives_with_the_state_in_its_subject(smtp: SMTPServer) -> None:
    transport = EmailTransport(destination("email", address="ops@example.org"), allow_private=False)
    assert transport.notify(FIRING) == "sent to ops@example.org"
    transport.notify(RESOLVED)

    firing, resolved = smtp.wait_for(2)
    assert firing.rcpt_tos == ("ops@example.org",)
    assert firing.mail_from == "alerts@tracker.test"
    assert firing.message["Subject"].startswith("[crypto-tracker] FIRING: BTC spike")
    assert resolved.message["Subject"].startswith("[crypto-tracker] RESOLVED: BTC spike")
    text = firing.message.get_content()
    assert "BTC/USD price on kraken" in text
    assert "68,340" in text


def test_a_rule_name_cannot_add_mail_headers(smtp: SMTPServer) -> None:
    sneaky = replace(FIRING, rule_name="spike\r\nBcc: someone@example.org")
    EmailTransport(destination("email", address="ops@example.org"), allow_private=False).notify(
        sneaky
    )
    [delivered] = smtp.wait_for(1)
    assert delivered.rcpt_tos == ("ops@example.org",)
    assert delivered.message["Bcc"] is None


def test_a_refused_recipient_is_permanent(smtp: SMTPServer) -> None:
    smtp.refuse(550)
    transport = EmailTransport(
        destination("email", address="nobody@example.org"), allow_private=False
    )
    with pytest.raises(TransportError, match="550") as caught:
        transport.notify(FIRING)
    assert caught.value.permanent


def test_a_busy_mailbox_is_transient(smtp: SMTPServer) -> None:
    smtp.refuse(450)
    transport = EmailTransport(destination("email", address="ops@example.org"), allow_private=False)
    with pytest.raises(TransportError, match="450") as caught:
        transport.notify(FIRING)
    assert not caught.value.permanent


def test_no_mail_server_is_transient(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    transport = EmailTransport(destination("email", address="ops@example.org"), allow_private=False)
    with pytest.raises(TransportError) as caught:
        transport.notify(FIRING)
    assert not caught.value.permanent


def test_an_invalid_address_is_permanent() -> None:
    transport = EmailTransport(destination("email", address="not an address"), allow_private=False)
    with pytest.raises(TransportError, match="not an email address") as caught:
        transport.notify(FIRING)
    assert caught.value.permanent
