"""A metric's chart in Chromium: one point per bucket of each range, the crosshair's legend,
candles, live extension and the CSV of the range shown."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tracker.dashboard.figures import NOTHING

from .chromium import LOOKS
from .pages import live, metric_id

# The seeded day, every five minutes, read through each range's automatic interval: 5-minute
# buckets up to a day, hourly up to 90 days, daily beyond. A bucket more when the window's
# edges cut one in two, one more when a live tick started the next.
EXPECTED_POINTS = {"1h": 12, "24h": 288, "7d": 24, "30d": 24, "1y": 1}


def _drawn(page: Page) -> int:
    page.wait_for_function("document.getElementById('chart').dataset.state === 'drawn'")
    return int(page.locator("#chart").get_attribute("data-points") or "0")


def _window(page: Page) -> dict[str, str]:
    href = page.locator("#csv").get_attribute("href") or ""
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


@pytest.mark.parametrize("span", list(EXPECTED_POINTS))
def test_the_chart_draws_one_point_per_bucket_of_the_range(page, live_tracker, span):
    metric = metric_id(page, "BTC/USD")
    page.goto(f"/metrics/{metric}")
    page.locator(f'button[data-range="{span}"]').click()
    expect(page.locator(f'button[data-range="{span}"]')).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("document.getElementById('csv').getAttribute('href').includes('since=')")
    points = _drawn(page)
    window = _window(page)
    buckets = page.request.get(f"/api/v1/metrics/{metric}/buckets", params=window).json()
    assert len(buckets) <= points <= len(buckets) + 1  # + a bucket a live tick began
    assert EXPECTED_POINTS[span] <= points <= EXPECTED_POINTS[span] + 2


def test_the_crosshair_tells_time_and_value(page, live_tracker):
    page.goto(f"/metrics/{metric_id(page, 'ETH/USD')}")
    _drawn(page)
    plot = page.locator("#chart .u-over")
    box = plot.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    legend = page.locator("#chart .u-legend .u-value")
    expect(legend.nth(0)).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(legend.nth(1)).not_to_have_text(NOTHING)


def test_candles_draw_the_same_buckets(page, live_tracker):
    page.goto(f"/metrics/{metric_id(page, 'BTC/USD')}")
    lines = _drawn(page)
    page.get_by_role("button", name="Candles").click()
    expect(page.get_by_role("button", name="Candles")).to_have_attribute("aria-pressed", "true")
    assert lines <= _drawn(page) <= lines + 1


def test_a_new_record_extends_the_chart_live(page, live_tracker):
    page.goto(f"/metrics/{metric_id(page, 'SOL/USD')}?range=1h")
    _drawn(page)
    live(page)
    live_tracker.kraken.prices.set("SOL/USD", 181.4321)
    expect(page.locator("#last-value")).to_have_text("181.432", timeout=10_000)


def test_the_csv_holds_the_buckets_drawn(page, live_tracker):
    metric = metric_id(page, "BTC/USD")
    page.goto(f"/metrics/{metric}?range=1h")
    points = _drawn(page)
    with page.expect_download() as downloading:
        page.locator("#csv").click()
    lines = downloading.value.path().read_text().strip().splitlines()
    assert lines[0].startswith("timestamp,open,high,low,close")
    assert points - 1 <= len(lines) - 1 <= points


def test_the_chart_looks_right_on_every_screen(new_page, live_tracker, screenshot):
    for look in LOOKS:
        page = new_page(base_url=live_tracker.url, look=look)
        page.goto(f"/metrics/{metric_id(page, 'BTC/USD')}")
        _drawn(page)
        live(page)
        canvas = page.locator("#chart canvas").bounding_box()
        assert canvas is not None and canvas["width"] <= look.screen.width
        screenshot(page, f"metric-{look.name}")
