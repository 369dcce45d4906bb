"""The dashboard: bytes and time to the first chart drawn, and live stream clients per process.

First the pages. A scratch SQLite database gets 100 metrics (20 pairs, every kind) with a
record a minute for 24 hours and a rank snapshot. The server runs as `make server` runs it (one
worker), with the bench's extra URLs (bench/serve_urls.py). Debian's Chromium, driven by
Playwright, loads each page `--loads` times in a fresh context (nothing cached) and reports the
median:

- the overview (`/`), whose 100 sparklines are drawn with the page: bytes transferred (page,
  styles, scripts), time to the first paint holding them;
- the metric page (`/metrics/{id}`): time until its 24-hour chart is drawn (the page, uPlot,
  the buckets' request and the drawing), and the bytes;
- the floor: the overview's own HTML, stored once and served by a bare Django view through the
  same server and middleware (`/bare/page`), with the same styles; its first paint is what
  the browser and server take for those bytes alone.

Then the stream: how many SSE clients one server process holds with every tick on time
(bench/dashboard_stream.py, with its defaults; `--pages-only` skips it).

    .venv/bin/python bench/dashboard.py [--loads 15] [--pages-only]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.history import setup_django  # noqa: E402
from bench.serve import DEFAULT_SERVER, _free_port, _wait_listening  # noqa: E402

PAIRS = 20  # five metrics each: 100 metrics
CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")


def seed(*, end: datetime) -> int:
    """100 metrics with a record a minute for a day, ranked; returns a price metric's id."""
    import random

    from tracker.markets import services
    from tracker.markets.models import Metric, MetricKind

    exchange = services.exchange_get_or_create(name="kraken")
    services.pairs_create(exchange=exchange, symbols=[f"C{i:02d}/USD" for i in range(PAIRS)])
    ids = list(Metric.objects.order_by("id").values_list("id", flat=True))
    rng = random.Random(7)
    levels = {m: rng.uniform(0.5, 60_000) for m in ids}
    start = end - timedelta(minutes=1439)
    for hour in range(24):
        samples = []
        for minute in range(hour * 60, hour * 60 + 60):
            moment = start + timedelta(minutes=minute)
            for m in ids:
                levels[m] *= 1 + rng.gauss(0, 0.001)
                samples.append(services.Sample(m, moment, levels[m]))
        services.records_ingest(samples=samples)
    services.ranks_refresh(kinds=MetricKind.values, now=end)
    exchange.last_success = end
    exchange.save(update_fields=["last_success"])
    return (
        Metric.objects.filter(kind=MetricKind.PRICE).order_by("id").values_list("id", flat=True)[0]
    )


# Bytes and times as the browser saw them, in one evaluation after the load.
MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const drawn = performance.getEntriesByName("chart-drawn")[0];
  return {
    bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
    paint: paint ? paint.startTime : null,
    drawn: drawn ? drawn.startTime : null,
  };
}"""


def measure(browser: Any, url: str, *, loads: int, chart: bool) -> dict[str, float]:
    bytes_, times = [], []
    for _ in range(loads + 1):  # the first load warms the server
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(url, wait_until="load")
        if chart:
            page.wait_for_function("document.getElementById('chart').dataset.state === 'drawn'")
        else:
            page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length")
        seen = page.evaluate(MEASURE)
        context.close()
        bytes_.append(seen["bytes"])
        times.append(seen["drawn"] if chart else seen["paint"])
    return {"bytes": statistics.median(bytes_[1:]), "ms": statistics.median(times[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--pages-only", action="store_true", help="skip the stream's part")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    scratch = Path(tempfile.mkdtemp(prefix="tracker-dashboard-"))
    setup_django(scratch / "dashboard.sqlite3")
    metric = seed(end=datetime.now(UTC).replace(second=0, microsecond=0))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    stored = scratch / "overview.html"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.serve_site",
        "DJANGO_SECRET_KEY": "bench-dashboard",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TRACKER_THROTTLE_ANON": "100000000/min",
        "BENCH_BARE_PAGE": str(stored),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    subprocess.run(  # the server serves the collected, compressed static files
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log_path = scratch / "server.log"
    server = subprocess.Popen(
        shlex.split(DEFAULT_SERVER.format(port=port, workers=1)),
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_listening(port, server, log_path)
        with urllib.request.urlopen(f"{base}/") as answer:
            page = answer.read()
        # The floor page keeps the styles but not the script: no stream, no sorting.
        stored.write_bytes(page.replace(b'<script type="module"', b'<script type="text/plain"'))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
            )
            overview = measure(browser, f"{base}/", loads=args.loads, chart=False)
            floor = measure(browser, f"{base}/bare/page", loads=args.loads, chart=False)
            chart = measure(browser, f"{base}/metrics/{metric}", loads=args.loads, chart=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"overview of 100 metrics, median of {args.loads} loads in Chromium (nothing cached)")
    print(f"{'':34}{'bytes':>10}{'first chart (ms)':>20}{'ratio':>8}")
    rows = [
        ("bare view, the same HTML", floor, 1.0),
        ("overview (/), sparklines drawn", overview, overview["ms"] / floor["ms"]),
        ("metric page, 24 h chart drawn", chart, chart["ms"] / floor["ms"]),
    ]
    for name, seen, ratio in rows:
        print(f"{name:34}{seen['bytes']:>10,.0f}{seen['ms']:>20.1f}{ratio:>8.2f}")
    if not args.pages_only:
        print(flush=True)
        stream = ROOT / "bench" / "dashboard_stream.py"
        subprocess.run([sys.executable, str(stream)], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
