"""Alert rules, the channels they notify, the episodes they fire (events) and each delivery.

A rule belongs to a user and watches metrics (a list, or every metric of a kind). One episode
of its condition on one metric is one `AlertEvent`: opened when the condition first holds,
resolved when the metric is back inside the band. At most one episode per rule and metric is
open at a time (a partial unique index), so two evaluators never fire the same alert twice.
Each event is delivered to each of the rule's channels as a `Delivery` (a firing notice, and a
resolved one when the rule asks for it); every attempt to send one is a `DeliveryAttempt`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.markets.models import Metric, MetricKind

WINDOW_DEFAULT = 3600
WINDOW_MIN = 60  # the average is read from minute rollups
WINDOW_MAX = 86_400  # rollups are kept for a day at least
COOLDOWN_MAX = 7 * 86_400


class ChannelKind(models.TextChoices):
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"
    PAGERDUTY = "pagerduty"


class Channel(models.Model):
    """Where a user is told: a Slack or generic webhook URL, an e-mail address, a PagerDuty key.

    `broken_at` is set when a delivery failed for good (a 404 from Slack, a refused address);
    deliveries to a broken channel fail at once, unsent, until its owner changes where it
    points or a test notification succeeds.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    url = models.CharField(max_length=2000, blank=True)
    address = models.CharField(max_length=254, blank=True)
    routing_key = models.CharField(max_length=64, blank=True)
    secret = models.CharField(max_length=200, blank=True, help_text="Write-only.")
    broken_at = models.DateTimeField(null=True, blank=True)
    broken_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["owner", "id"], name="channel_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Direction(models.TextChoices):
    ABOVE = "above"  # value > factor x average
    BELOW = "below"  # value < average / factor


class AlertRule(models.Model):
    """ "Tell me on these channels when one of these metrics goes `factor` times beyond its
    average over `window_seconds`." `metrics`, or every metric of `kind` (pairs added later
    included); `cooldown_seconds` (None: the window) between the start of one episode and the
    next; `min_samples` records in the window before it may fire."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=100)
    metrics = models.ManyToManyField(Metric, blank=True, related_name="alert_rules")
    kind = models.CharField(max_length=16, choices=MetricKind.choices, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.ABOVE)
    factor = models.FloatField(default=3.0)
    window_seconds = models.PositiveIntegerField(default=WINDOW_DEFAULT)
    cooldown_seconds = models.PositiveIntegerField(null=True, blank=True)
    min_samples = models.PositiveIntegerField(default=10)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    notify_resolved = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(
        auto_now=True, help_text="Stamped by every write, so evaluators see the change."
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["owner", "id"], name="alertrule_owner"),
            models.Index(fields=["kind", "enabled"], name="alertrule_kind"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def cooldown(self) -> int:
        return self.window_seconds if self.cooldown_seconds is None else self.cooldown_seconds


class AlertEvent(models.Model):
    """One episode of a rule's condition on one metric: what fired it, and when it ended."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="alert_events")
    value = models.FloatField(help_text="The value that started the episode.")
    average = models.FloatField(help_text="The window's average it was compared with.")
    factor = models.FloatField()
    direction = models.CharField(max_length=8, choices=Direction.choices)
    window_seconds = models.PositiveIntegerField()
    fired_at = models.DateTimeField(help_text="The time of the record that started it.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_value = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "metric"],
                condition=models.Q(resolved_at__isnull=True),
                name="alertevent_one_open_episode",
            )
        ]
        indexes = [
            models.Index(fields=["rule", "metric", "-fired_at"], name="alertevent_rule_metric"),
            models.Index(fields=["-fired_at", "-id"], name="alertevent_recent"),
            models.Index(
                fields=["metric"],
                condition=models.Q(resolved_at__isnull=True),
                name="alertevent_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on metric {self.metric_id} at {self.fired_at:%Y-%m-%d %H:%M:%S}"


class Notice(models.TextChoices):
    FIRING = "firing"
    RESOLVED = "resolved"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a sender at claimed_at
    SENT = "sent"
    FAILED = "failed"  # given up: failed for good, or out of attempts


class Delivery(models.Model):
    """One notice of one event to one channel, sent at least once."""

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    notice = models.CharField(max_length=8, choices=Notice.choices)
    state = models.CharField(
        max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "notice"], name="delivery_once_per_notice"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.notice} of event {self.event_id} to channel {self.channel_id}: {self.state}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, and what came of it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    response = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_once")]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"attempt {self.number} of delivery {self.delivery_id}: {outcome}"
