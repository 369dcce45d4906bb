"""Channel kinds and the transport class of each, imported the first time a kind is used."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from tracker.alerts.transports.base import Destination, Transport, TransportError

TRANSPORTS: dict[str, str] = {
    "slack": "tracker.alerts.transports.slack.SlackTransport",
    "webhook": "tracker.alerts.transports.webhook.WebhookTransport",
    "email": "tracker.alerts.transports.email.EmailTransport",
    "pagerduty": "tracker.alerts.transports.pagerduty.PagerDutyTransport",
}
KINDS: tuple[str, ...] = tuple(TRANSPORTS)


@cache
def transport_class(kind: str) -> type[Transport]:
    """The Transport subclass for `kind`; KeyError for a kind not in TRANSPORTS."""
    cls: type[Transport] = import_string(TRANSPORTS[kind])
    return cls


def transport_for(
    destination: Destination, *, allow_private: bool, timeout: float = 5.0
) -> Transport:
    """The transport that sends to `destination`. An unknown kind is a permanent
    TransportError: no retry will make it known."""
    if destination.kind not in TRANSPORTS:
        raise TransportError(
            f"unknown channel kind {destination.kind!r}; one of {', '.join(KINDS)}",
            permanent=True,
        )
    return transport_class(destination.kind)(
        destination, allow_private=allow_private, timeout=timeout
    )
