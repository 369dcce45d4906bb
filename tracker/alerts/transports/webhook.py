"""Generic webhooks: the notification's JSON, signed with the destination's secret if it has one.

The receiver checks `X-Tracker-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body
bytes keyed with the shared secret, before trusting the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from tracker.alerts.transports.base import Notification, Transport, describe

SIGNATURE_HEADER = "X-Tracker-Signature"


def signature(body: bytes, secret: str) -> str:
    """The X-Tracker-Signature value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookTransport(Transport):
    def notify(self, notification: Notification) -> str:
        body = json.dumps(
            notification.as_json(), separators=(",", ":"), ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.destination.secret:
            headers[SIGNATURE_HEADER] = signature(body, self.destination.secret)
        response = self.post_bytes(self.destination.url, body, headers, service="the webhook")
        return describe(response)
