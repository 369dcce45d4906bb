"""The shapes of channels, alert rules and alert events in the API, and their validation.

Another user's channel or metric id is refused as if it did not exist; a channel's secret is
write-only; a channel URL must pass the outbound guard (`tracker.common.outbound`) when saved.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from tracker.alerts.delivery import window_text
from tracker.alerts.models import (
    COOLDOWN_MAX,
    WINDOW_DEFAULT,
    WINDOW_MAX,
    WINDOW_MIN,
    AlertEvent,
    AlertRule,
    Channel,
    ChannelKind,
    Delivery,
)
from tracker.common.outbound import UnsafeURL, url_check
from tracker.markets.models import Metric, MetricKind
from tracker.markets.selectors import BIGINT_MAX

DURATION = re.compile(r"([0-9]{1,7})([smhd])", re.ASCII)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
FACTOR_MAX = 1_000_000.0
IDS_MAX = 1000
URL_KINDS = {ChannelKind.SLACK, ChannelKind.WEBHOOK}


@extend_schema_field({"type": "string", "pattern": "^[0-9]{1,7}[smhd]$", "example": "1h"})
class DurationField(serializers.Field[int, str, str, Any]):
    """A length of time as `30m`, `1h` or `1d`, stored in seconds."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        match = DURATION.fullmatch(data) if isinstance(data, str) else None
        seconds = int(match.group(1)) * UNITS[match.group(2)] if match else None
        if seconds is None or not self.minimum <= seconds <= self.maximum:
            raise serializers.ValidationError(
                f"Expected a length such as 30m, 1h or 1d, from {window_text(self.minimum)} "
                f"to {window_text(self.maximum)}."
            )
        return seconds

    def to_representation(self, value: int) -> str:
        return window_text(value)


class SafeDateTimeField(serializers.DateTimeField):
    """DRF's, with times that overflow on conversion to UTC refused as invalid, not a 500."""

    def to_internal_value(self, value: Any) -> datetime:
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("invalid", format="ISO 8601")
            raise  # unreachable: fail raises


# JSON types as the schema gives them: DRF would also read 1 as true, "3" as a number and 7
# as a name, which a client relying on the schema should hear about.


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer[Any]):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.FloatField: StrictFloatField,
        models.PositiveIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }


class _IdList(serializers.ManyRelatedField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class OwnIdField(serializers.PrimaryKeyRelatedField[Any]):
    """A primary key of a row the queryset holds; ids beyond a database integer do not exist."""

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> _IdList:
        shared = {k: v for k, v in kwargs.items() if k in MANY_RELATION_KWARGS}
        return _IdList(child_relation=cls(*args, **kwargs), **shared)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < data <= BIGINT_MAX:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ChannelSerializer(StrictModelSerializer):
    secret = StrictCharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="HMAC key of the webhook's X-Tracker-Signature. Write-only.",
    )
    broken = serializers.SerializerMethodField(
        help_text="Whether deliveries stopped after a permanent failure; a change of the "
        "destination or a successful test clears it."
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "address",
            "routing_key",
            "secret",
            "broken",
            "broken_at",
            "broken_reason",
            "created_at",
        ]
        read_only_fields = ["broken_at", "broken_reason", "created_at"]

    def get_broken(self, channel: Channel) -> bool:
        return channel.broken_at is not None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {
            name: attrs.get(name, getattr(self.instance, name, ""))
            for name in ("kind", "url", "address", "routing_key")
        }
        kind = merged["kind"]
        if kind in URL_KINDS:
            if not merged["url"]:
                raise serializers.ValidationError({"url": [f"A {kind} channel needs a URL."]})
            if "url" in attrs or "kind" in attrs:
                try:
                    url_check(merged["url"], allow_private=settings.TRACKER_ALLOW_PRIVATE_WEBHOOKS)
                except UnsafeURL as unsafe:
                    raise serializers.ValidationError({"url": [str(unsafe)]}) from None
        elif kind == ChannelKind.EMAIL:
            try:
                validate_email(merged["address"])
            except DjangoValidationError:
                raise serializers.ValidationError(
                    {"address": ["An email channel needs an e-mail address."]}
                ) from None
        elif kind == ChannelKind.PAGERDUTY and not (
            merged["routing_key"] and merged["routing_key"].isprintable()
        ):
            raise serializers.ValidationError(
                {"routing_key": ["A pagerduty channel needs its integration's routing key."]}
            )
        return attrs


class AlertRuleSerializer(StrictModelSerializer):
    metrics = OwnIdField(
        many=True,
        queryset=Metric.objects.all(),
        required=False,
        help_text="The metrics to watch; or give kind instead.",
    )
    kind = serializers.ChoiceField(
        choices=MetricKind.choices,
        required=False,
        allow_blank=True,
        help_text="Watch every metric of this kind, pairs added later included.",
    )
    channels = OwnIdField(many=True, queryset=Channel.objects.none(), required=False)
    factor = StrictFloatField(
        required=False,
        default=3.0,
        help_text="above: value > factor x average; below: value < average / factor.",
    )
    window = DurationField(
        source="window_seconds",
        minimum=WINDOW_MIN,
        maximum=WINDOW_MAX,
        required=False,
        default=WINDOW_DEFAULT,
        help_text="The span the average is taken over.",
    )
    cooldown = DurationField(
        source="cooldown_seconds",
        minimum=0,
        maximum=COOLDOWN_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Least time between the starts of two alerts; null: the window.",
    )
    min_samples = StrictIntegerField(min_value=1, max_value=1_000_000, required=False)
    notify_resolved = StrictBooleanField(required=False, default=True)
    enabled = StrictBooleanField(required=False, default=True)
    muted_until = SafeDateTimeField(required=False, allow_null=True)

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "metrics",
            "kind",
            "direction",
            "factor",
            "window",
            "cooldown",
            "min_samples",
            "channels",
            "notify_resolved",
            "enabled",
            "muted_until",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.context.get("owner")
        if owner is not None:
            channels = self.fields["channels"]
            channels.child_relation.queryset = Channel.objects.filter(owner=owner)  # type: ignore[attr-defined]

    def validate_factor(self, factor: float) -> float:
        if not (math.isfinite(factor) and 1.0 < factor <= FACTOR_MAX):
            raise serializers.ValidationError(f"Expected a number above 1, at most {FACTOR_MAX:g}.")
        return factor

    def validate_metrics(self, metrics: list[Metric]) -> list[Metric]:
        if len(metrics) > IDS_MAX:
            raise serializers.ValidationError(f"At most {IDS_MAX} metrics; use kind for more.")
        return metrics

    def validate_channels(self, channels: list[Channel]) -> list[Channel]:
        if len(channels) > IDS_MAX:
            raise serializers.ValidationError(f"At most {IDS_MAX} channels.")
        return channels

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        metrics = attrs.get("metrics")
        kind = attrs.get("kind")
        if self.instance is not None and "metrics" not in attrs and "kind" not in attrs:
            return attrs  # what it watches is not being changed (its metrics may be gone)
        if self.instance is not None:
            metrics = list(self.instance.metrics.all()) if metrics is None else metrics
            kind = self.instance.kind if kind is None else kind
        if bool(metrics) == bool(kind):
            raise serializers.ValidationError(
                {"metrics": ["Give either metrics (a list of metric ids) or kind, not both."]}
            )
        return attrs


class AlertRuleRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AlertMetricSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    pair = serializers.CharField()
    metric = serializers.CharField()
    exchange = serializers.CharField()


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    channel = serializers.IntegerField(source="channel_id")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "notice",
            "state",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "last_error",
        ]


class AlertEventSerializer(serializers.ModelSerializer[AlertEvent]):
    rule = serializers.SerializerMethodField()
    metric = serializers.SerializerMethodField()
    window = DurationField(source="window_seconds", minimum=0, maximum=WINDOW_MAX)
    deliveries = DeliverySerializer(many=True)

    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "rule",
            "metric",
            "value",
            "average",
            "factor",
            "direction",
            "window",
            "fired_at",
            "resolved_at",
            "resolved_value",
            "deliveries",
        ]

    @extend_schema_field(AlertRuleRefSerializer)
    def get_rule(self, event: AlertEvent) -> dict[str, Any]:
        return {"id": event.rule_id, "name": event.rule.name}

    @extend_schema_field(AlertMetricSerializer)
    def get_metric(self, event: AlertEvent) -> dict[str, Any]:
        metric = event.metric
        return {
            "id": metric.id,
            "pair": metric.pair.symbol,
            "metric": metric.kind,
            "exchange": metric.pair.exchange.name,
        }


class ChannelTestSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    response = serializers.CharField(help_text="What the channel answered, on success.")
    error = serializers.CharField(help_text="Why it failed, on failure.")
    permanent = serializers.BooleanField(
        help_text="Whether the failure is one retrying cannot fix; the channel is then broken."
    )
