"""What the tracker stores: exchanges, the pairs it follows there, their metrics and records."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models

# Seconds between two polls of an exchange: from one second to one day.
INTERVAL_MIN, INTERVAL_MAX = 1.0, 86_400.0


class ExchangeMode(models.TextChoices):
    POLL = "poll", "polled over REST"
    STREAM = "stream", "streamed over a socket; polled over REST while the socket is down"


class ExchangeStatus(models.TextChoices):
    OK = "ok", "the last poll succeeded, within three intervals"
    FAILING = "failing", "the last poll failed"
    STALE = "stale", "no successful poll within three intervals, or never"


class Exchange(models.Model):
    """An exchange the tracker polls, by its ccxt id.

    The rows are the truth the runtime follows: the environment only creates them on the first
    run, and a change to `enabled`, `interval`, `mode` or a URL takes effect at the next tick.
    """

    name = models.CharField(max_length=64, unique=True, help_text="ccxt exchange id, e.g. kraken")
    base_url = models.URLField(
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Overrides the exchange's public REST base URL (mirror, proxy).",
    )
    ws_url = models.CharField(
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["ws", "wss"])],
        help_text="Overrides the exchange's WebSocket URL (mode=stream).",
    )
    enabled = models.BooleanField(default=True, help_text="Whether the exchange is polled.")
    interval = models.FloatField(
        default=60.0,
        validators=[MinValueValidator(INTERVAL_MIN), MaxValueValidator(INTERVAL_MAX)],
        help_text="Seconds between two polls, from 1 to 86,400 (a day).",
    )
    mode = models.CharField(max_length=16, choices=ExchangeMode.choices, default=ExchangeMode.POLL)
    last_success = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(interval__gte=1.0), name="exchange_interval_at_least_1s"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def status_at(self, now: datetime) -> str:
        """`failing` after a failed poll, `stale` without a success in three intervals."""
        if self.consecutive_failures > 0:
            return ExchangeStatus.FAILING
        if self.last_success is None or now - self.last_success > timedelta(
            seconds=3 * self.interval
        ):
            return ExchangeStatus.STALE
        return ExchangeStatus.OK


class PairStatus(models.TextChoices):
    ACTIVE = "active", "polled"
    PAUSED = "paused", "paused by staff"
    DELISTED = "delisted", "no longer listed by the exchange"


class Pair(models.Model):
    """A market on one exchange, by its unified symbol ("BTC/USD").

    Only active pairs are polled. Paused and delisted ones keep their metrics and records.
    """

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="pairs")
    symbol = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=PairStatus.choices, default=PairStatus.ACTIVE)
    status_reason = models.TextField(blank=True, help_text="Why the status last changed.")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    backfilled_from = models.DateTimeField(
        null=True, blank=True, help_text="Start of the window filled from the exchange's candles."
    )
    backfilled_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the window filled from the exchange's candles."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exchange__name", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="pair_unique_symbol"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} on {self.exchange_id}"

    @property
    def active(self) -> bool:
        return self.status == PairStatus.ACTIVE


class MetricKind(models.TextChoices):
    PRICE = "price", "last trade price"
    VOLUME = "volume", "24-hour base volume"
    BID = "bid", "best bid"
    ASK = "ask", "best ask"
    SPREAD = "spread", "ask minus bid"


class Metric(models.Model):
    """One measured quantity of a pair; its values over time are Records."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="metrics")
    kind = models.CharField(max_length=16, choices=MetricKind.choices)
    reference = models.FloatField(
        null=True,
        editable=False,
        help_text="The metric's first stored value. Rollup means are kept relative to it, so "
        "that large values with small moves keep their precision.",
    )
    version = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="Grows by one with every ingest that stores records of this metric, in the "
        "same transaction: the key of its cached answers.",
    )
    changed_at = models.DateTimeField(
        null=True, editable=False, help_text="When records of this metric were last stored."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "kind"], name="metric_unique_kind"),
        ]
        # The version of a kind (what a rank depends on) is read over the metrics of that kind.
        indexes = [models.Index(fields=["kind"], name="metric_kind")]

    def __str__(self) -> str:
        return f"{self.pair.symbol} {self.kind}"


class Record(models.Model):
    """One value of one metric at one moment.

    The primary key (metric, timestamp) makes a repeated write a no-op and is also the index
    that serves "one metric over a time range"; it will be the partition key on PostgreSQL.
    """

    pk = models.CompositePrimaryKey("metric_id", "timestamp")
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    timestamp = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        ordering = ["metric_id", "timestamp"]

    def __str__(self) -> str:
        return f"{self.metric_id}@{self.timestamp.isoformat()}={self.value}"


class MinuteRollup(models.Model):
    """Statistics of one metric's records within one UTC minute, kept up to date on ingest.

    count, offset_mean and m2 (the sum of squared deviations from the mean) merge exactly with
    Chan's formula, so any longer window is computed from these rows instead of the raw records.
    The mean is stored as an offset from `Metric.reference`: subtracting a nearby constant is
    exact in floating point, and differences of small offsets lose nothing, where differences
    of large means near each other would.
    """

    pk = models.CompositePrimaryKey("metric_id", "minute")
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="minute_rollups", db_index=False
    )
    minute = models.DateTimeField(help_text="Start of the minute, UTC.")
    count = models.PositiveIntegerField()
    offset_mean = models.FloatField(help_text="Mean of the values minus Metric.reference.")
    m2 = models.FloatField()
    low = models.FloatField()
    high = models.FloatField()
    first = models.FloatField()
    first_at = models.DateTimeField()
    last = models.FloatField()
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["metric_id", "minute"]

    def __str__(self) -> str:
        return f"{self.metric_id}@{self.minute.isoformat()} n={self.count}"


class MetricRank(models.Model):
    """One metric's 24-hour rank among its kind, as of `computed_at`, and the window sums it
    was computed from.

    `services.ranks_refresh` keeps the sums over the closed minutes of the window up to date
    from the minute rollups (adding the minutes that closed, subtracting those that slid out),
    so a refresh reads a few rollup rows per metric instead of 1,440. The sums are kept
    relative to `shift` (the window's mean, in offsets from `Metric.reference`, when they were
    last computed from scratch), so they keep the precision of the values' moves. Deleting a
    row makes the next refresh compute that metric from scratch.
    """

    metric = models.OneToOneField(
        Metric, on_delete=models.CASCADE, primary_key=True, related_name="rank_snapshot"
    )
    kind = models.CharField(max_length=16, choices=MetricKind.choices)
    window_start = models.DateTimeField(help_text="First minute the sums cover.")
    closed_until = models.DateTimeField(help_text="The sums cover minutes before this one.")
    shift = models.FloatField(help_text="Offset the sums are taken relative to.")
    n = models.BigIntegerField(help_text="Records in the summed minutes.")
    s1 = models.FloatField(help_text="Sum of the values minus reference and shift.")
    s2 = models.FloatField(help_text="Sum of the squares of the values minus reference and shift.")
    rebuilt_at = models.DateTimeField(help_text="When the sums were last computed from scratch.")
    count = models.BigIntegerField(help_text="Records in the whole window, open minutes included.")
    stddev = models.FloatField(null=True, help_text="Population standard deviation; null below 2.")
    rank = models.PositiveIntegerField(null=True, help_text="1 is the largest stddev of the kind.")
    rank_of = models.PositiveIntegerField(help_text="How many metrics of the kind were ranked.")
    computed_at = models.DateTimeField(help_text="The `now` of the refresh that wrote the rank.")

    class Meta:
        indexes = [models.Index(fields=["kind"], name="metric_rank_kind")]

    def __str__(self) -> str:
        return f"{self.metric_id} rank {self.rank} of {self.rank_of}"
