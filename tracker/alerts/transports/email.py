"""Alert mail through Django's mail settings (EMAIL_URL): one message per notification.

SMTP answers say whether to try again: 5xx replies (a refused recipient, 550) are permanent,
4xx replies (greylisting, a full queue) and lost or refused connections are transient.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from tracker.alerts.transports.base import (
    Notification,
    Transport,
    TransportError,
    iso_utc,
    number,
)

SUBJECT_PREFIX = "[crypto-tracker]"


def subject(notification: Notification) -> str:
    state = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[notification.status]
    line = f"{SUBJECT_PREFIX} {state}: {notification.rule_name} - {notification.summary()}"
    # A header is one line; a rule name with a line break in it must not make it two.
    return " ".join(line.split())


def body(notification: Notification) -> str:
    lines = [
        notification.summary(),
        "",
        f"Rule:      {notification.rule_name} (id {notification.rule_id})",
        f"Metric:    {notification.subject} (id {notification.metric_id})",
        f"Value:     {number(notification.value)}",
        f"Average:   {number(notification.average)}"
        + (f" over {notification.window}" if notification.window else ""),
        f"Factor:    {number(notification.factor)}"
        + (f" ({notification.direction})" if notification.direction else ""),
        f"Fired at:  {iso_utc(notification.fired_at) or '-'}",
        f"Resolved:  {iso_utc(notification.resolved_at) or '-'}",
        "",
        "-- crypto-tracker",
    ]
    return "\n".join(lines) + "\n"


def _smtp_permanent(code: int) -> bool:
    return code >= 500


class EmailTransport(Transport):
    def notify(self, notification: Notification) -> str:
        address = (self.destination.address or "").strip()
        try:
            validate_email(address)
        except ValidationError:
            raise TransportError(f"{address!r} is not an email address", permanent=True) from None
        message = EmailMessage(
            subject=subject(notification),
            body=body(notification),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            connection=get_connection(fail_silently=False),
        )
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            replies = "; ".join(
                f"{code} {reply.decode(errors='replace')}"
                for code, reply in error.recipients.values()
            )
            raise TransportError(
                f"the mail server refused {address}: {replies}",
                permanent=any(_smtp_permanent(code) for code in codes),
            ) from error
        except smtplib.SMTPResponseException as error:
            reply = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error.smtp_error)
            )
            raise TransportError(
                f"the mail server answered {error.smtp_code} {reply}",
                permanent=_smtp_permanent(error.smtp_code),
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise TransportError(f"the mail server cannot: {error}", permanent=True) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(f"the mail was not handed over: {error}") from error
        return f"sent to {address}"
