"""History for the browser tests' tracker, so charts and tables have something to show.

Each pair gets a day of records, one every five minutes, taken from the real recording in
`data/btc-usd-1h.csv` (one recorded hour per point, each pair from its own place in it, as the
demo's replay does) and scaled so the last point meets the stand-in exchange's current quote,
where the live polls carry on. `history_write` runs in the test process and writes a JSON file;
`tracker_seed` runs inside the child tracker (`manage.py shell`): it creates the configured
exchanges and pairs as `manage.py seedpairs` does (without asking the exchange, which costs
seconds) and stores the history through `records_ingest`, the same path polls take.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes.base import PriceSource
from tests.fakes.replay import PROFILES
from tests.process import ROOT

RECORDING = ROOT / "data" / "btc-usd-1h.csv"
POINTS = 288  # a day, every five minutes
STEP = timedelta(minutes=5)


def _recording() -> tuple[list[float], list[float]]:
    with open(RECORDING, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["close"]) for r in rows], [float(r["volume_base"]) for r in rows]


def history_write(
    path: Path, *, symbols: list[str], prices: PriceSource, end: datetime | None = None
) -> None:
    """Write {symbol: [[iso time, price, 24h base volume], ...]} ending at `end` (now)."""
    closes, volumes = _recording()
    end = (end or datetime.now(UTC)).replace(second=0, microsecond=0)
    history: dict[str, list[tuple[str, float, float]]] = {}
    for symbol in symbols:
        offset, _ = PROFILES.get(symbol, (len(closes) // 2, None))
        first = offset % (len(closes) - POINTS)
        window = range(first, first + POINTS)
        last, volume = prices.quote(symbol)
        scale = last / closes[window[-1]]
        day = [sum(volumes[max(0, i - 23) : i + 1]) for i in window]
        volume_scale = volume / day[-1]
        history[symbol] = [
            ((end - STEP * (POINTS - 1 - n)).isoformat(), closes[i] * scale, day[n] * volume_scale)
            for n, i in enumerate(window)
        ]
    path.write_text(json.dumps(history))


def tracker_seed(path: str) -> int:
    """Create the configured exchanges and their pairs, then store a `history_write` file as
    records of every metric those pairs have (bid, ask and spread around the price as the
    stand-in quotes them). Returns the records stored."""
    from django.conf import settings

    from tracker.markets.models import Metric, MetricKind
    from tracker.markets.services import Sample, exchanges_seed, pairs_create, records_ingest

    seeds = settings.TRACKER_EXCHANGE_SEEDS
    exchanges = exchanges_seed(
        seeds=[(seed.name, seed.base_url, seed.ws_url) for seed in seeds],
        interval=settings.TRACKER_FETCH_INTERVAL,
    )
    for exchange, seed in zip(exchanges, seeds, strict=True):
        pairs_create(exchange=exchange, symbols=seed.required)

    history = json.loads(Path(path).read_text())
    samples = []
    for metric in Metric.objects.select_related("pair").filter(pair__symbol__in=history):
        for stamp, price, volume in history[metric.pair.symbol]:
            value = {
                MetricKind.PRICE: price,
                MetricKind.VOLUME: volume,
                MetricKind.BID: price * 0.9998,
                MetricKind.ASK: price * 1.0002,
                MetricKind.SPREAD: price * 0.0004,
            }[MetricKind(metric.kind)]
            samples.append(
                Sample(metric_id=metric.id, timestamp=datetime.fromisoformat(stamp), value=value)
            )
    return records_ingest(samples=samples)
