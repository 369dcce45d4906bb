"""Shapes of the API's answers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tracker.markets.models import Metric


class MetricSerializer(serializers.ModelSerializer[Metric]):
    pair = serializers.CharField(source="pair.symbol", read_only=True)
    exchange = serializers.CharField(source="pair.exchange.name", read_only=True)
    metric = serializers.CharField(source="kind", read_only=True)
    active = serializers.BooleanField(
        source="pair.active",
        read_only=True,
        help_text="Whether new records come: false once its pair is removed, paused or "
        "delisted (the history stays readable).",
    )

    class Meta:
        model = Metric
        fields = ["id", "pair", "metric", "exchange", "active"]
        read_only_fields = fields


class MetricDetailSerializer(MetricSerializer):
    rank = serializers.IntegerField(
        allow_null=True,
        read_only=True,
        help_text="1-based position among metrics of the same kind by 24-hour standard "
        "deviation, largest first; null with fewer than two records in the window.",
    )
    rank_of = serializers.IntegerField(read_only=True, help_text="How many metrics were ranked.")
    stddev = serializers.FloatField(
        allow_null=True, read_only=True, help_text="Population standard deviation over 24 hours."
    )
    records_24h = serializers.IntegerField(read_only=True, help_text="Records in the window.")
    ranked_at = serializers.DateTimeField(
        allow_null=True,
        read_only=True,
        help_text="When the rank, rank_of, stddev and records_24h were computed (ISO 8601, UTC, "
        "with Z): the end of their 24-hour window. Ranks are refreshed for a whole kind after "
        "each ingest, at most once a second; null before the first refresh.",
    )

    class Meta(MetricSerializer.Meta):
        fields = [
            *MetricSerializer.Meta.fields,
            "rank",
            "rank_of",
            "stddev",
            "records_24h",
            "ranked_at",
        ]
        read_only_fields = fields


class RecordSerializer(serializers.Serializer[tuple[object, float]]):
    """One record; the view renders many of these without instantiating the serializer."""

    timestamp = serializers.DateTimeField(help_text="ISO 8601, UTC, with Z.")
    value = serializers.FloatField()


class BucketSerializer(serializers.Serializer[Any]):
    """One bucket of a bucketed answer (`interval` other than raw)."""

    timestamp = serializers.DateTimeField(help_text="The bucket's UTC start.")
    open = serializers.FloatField(help_text="First value in the bucket.")
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField(help_text="Last value in the bucket.")
    average = serializers.FloatField(help_text="Mean of the bucket's values.")
    count = serializers.IntegerField(help_text="How many records the bucket holds.")
