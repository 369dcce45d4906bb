"""What every channel transport shares: the notification it sends, where it sends it, the one
error it raises, and the rules for reading an HTTP receiver's answer.

A transport is built for one destination and sends one notification per `notify` call. It
returns a short description of the receiver's answer ("200 ok") for the delivery record, or
raises TransportError saying whether trying again can help:

- permanent: retrying cannot succeed. A 4xx other than 408 and 429 (Slack's 404 `no_service`,
  410 `channel_is_archived`), a redirect (never followed), an address the outbound guard
  refuses, a destination that is not valid, a mail server's 5xx.
- transient: a later attempt may succeed. A 5xx, 408, 429, a timeout, a refused or reset
  connection, a mail server's 4xx.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal

from tracker.common import outbound

Status = Literal["firing", "resolved", "test"]

USER_AGENT = "crypto-tracker"
# Statuses that mean "not now" rather than "never".
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


@dataclass(frozen=True)
class Notification:
    """One alert event as sent to every channel: the rule fired, resolved, or a test."""

    status: Status
    rule_id: int | None
    rule_name: str
    metric_id: int | None
    pair: str  # "BTC/USD"
    metric: str  # the metric's kind: "price", "volume", ...
    exchange: str
    value: float | None
    average: float | None
    factor: float | None
    direction: str | None  # "above" or "below"
    window: str | None  # "1h"
    fired_at: datetime | None
    resolved_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The webhook body (and PagerDuty's custom details)."""
        return {
            "status": self.status,
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "metric": {
                "id": self.metric_id,
                "pair": self.pair,
                "metric": self.metric,
                "exchange": self.exchange,
            },
            "value": self.value,
            "average": self.average,
            "factor": self.factor,
            "direction": self.direction,
            "window": self.window,
            "fired_at": iso_utc(self.fired_at),
            "resolved_at": iso_utc(self.resolved_at),
        }

    @property
    def subject(self) -> str:
        """'BTC/USD price on kraken'."""
        return f"{self.pair} {self.metric} on {self.exchange}"

    def summary(self) -> str:
        """One line for people: what happened, with the numbers behind it."""
        if self.status == "test":
            return f"Test notification from crypto-tracker: rule {self.rule_name!r}, {self.subject}"
        average = f"its {self.window} average" if self.window else "its average"
        if self.factor is None or self.average is None:
            if self.status == "resolved":
                return f"{self.subject} is back to normal"
            return f"{self.subject} crossed its alert threshold at {number(self.value)}"
        below = self.direction == "below"
        # A "below" factor may be written either way round, 3 (a third of the average) or
        # 0.33 (times the average): both mean a threshold under the average.
        if below and self.factor >= 1:
            limit = f"1/{number(self.factor)} of"
            threshold = f"{number(self.average)} / {number(self.factor)}"
        else:
            limit = f"{number(self.factor)}x"
            threshold = f"{number(self.factor)} x {number(self.average)}"
        if self.status == "resolved":
            return f"{self.subject} is back {'above' if below else 'within'} {limit} {average}"
        if self.value is None:
            return f"{self.subject} crossed {limit} {average}"
        ratio = ratio_text(self.value, self.average)
        sign = "<" if below else ">"
        return f"{self.subject} is {ratio} {average} ({number(self.value)} {sign} {threshold})"


def ratio_text(value: float, average: float) -> str:
    """'3.4x'; how many times the average a value is."""
    if average == 0:
        return "far from"
    ratio = value / average
    if abs(ratio) >= 10:
        return f"{ratio:.0f}x"
    if abs(ratio) >= 0.1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2g}x"


def number(value: float | None) -> str:
    """A number as people read it: 61,000; 72.5; 0.081."""
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None. A naive time is taken to be UTC already."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Destination:
    """Where a channel sends: a URL (webhook, Slack), an address (email), a routing key
    (PagerDuty); `secret` signs webhook bodies."""

    kind: str
    url: str | None
    address: str | None
    routing_key: str | None
    secret: str | None


class TransportError(Exception):
    """A notification was not delivered. `permanent`: retrying cannot help. `status`: the
    receiver's HTTP status, when it answered."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status


class Transport(ABC):
    """Sends notifications to one destination."""

    def __init__(
        self, destination: Destination, *, allow_private: bool, timeout: float = 5.0
    ) -> None:
        self.destination = destination
        self.allow_private = allow_private
        self.timeout = timeout

    @abstractmethod
    def notify(self, notification: Notification) -> str:
        """Send it; a short description of the answer ("200 ok"). Raises TransportError."""

    # --- for the transports that post JSON over HTTP ------------------------------------------

    def post_json(
        self, url: str | None, payload: dict[str, Any], *, service: str
    ) -> outbound.OutboundResponse:
        """POST `payload` as compact JSON through the outbound guard; the answer, a 2xx.
        Raises TransportError for anything else; `service` names the receiver in messages."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return self.post_bytes(url, body, {"Content-Type": "application/json"}, service=service)

    def post_bytes(
        self, url: str | None, body: bytes, headers: dict[str, str], *, service: str
    ) -> outbound.OutboundResponse:
        if not url:
            raise TransportError(f"{service}: the destination has no URL", permanent=True)
        try:
            response = outbound.post(
                url,
                body=body,
                headers={"User-Agent": USER_AGENT, **headers},
                allow_private=self.allow_private,
                timeout=self.timeout,
            )
        except outbound.OutboundError as error:
            raise TransportError(str(error), permanent=not error.transient) from error
        answer_check(response, service=service)
        return response


def answer_text(response: outbound.OutboundResponse, *, limit: int = 200) -> str:
    """The answer's body as one short line, or the status's name when it has none."""
    text = " ".join(response.body.decode("utf-8", "replace").split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if text:
        return text
    try:
        return HTTPStatus(response.status).phrase
    except ValueError:
        return ""


def answer_check(response: outbound.OutboundResponse, *, service: str) -> None:
    """Raise TransportError unless the receiver answered 2xx."""
    status = response.status
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        location = response.headers.get("location", "nowhere")
        raise TransportError(
            f"{service} answered {status}, a redirect to {location}; redirects are not "
            "followed, give the final URL",
            permanent=True,
            status=status,
        )
    permanent = 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS
    raise TransportError(
        f"{service} answered {status}: {answer_text(response)}".rstrip(": "),
        permanent=permanent,
        status=status,
    )


def describe(response: outbound.OutboundResponse) -> str:
    """'200 ok': the status and what the receiver said."""
    return f"{response.status} {answer_text(response, limit=100)}".strip()
