"""The overview in Chromium: the seeded metrics listed with their figures, new ticks shown
without a reload, sorting by keyboard, and the stale marker when the exchange stops answering."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tracker.dashboard.figures import MINUS, NOTHING

from .chromium import LOOKS
from .pages import live, metric_id


def test_the_overview_lists_every_seeded_metric_with_its_figures(page, live_tracker):
    page.goto("/")
    rows = page.locator("#overview-rows tr")
    expect(rows).to_have_count(len(live_tracker.pairs) * 5)  # five kinds per pair
    btc = page.locator(f'tr[data-metric="{metric_id(page, "BTC/USD")}"]')
    expect(btc.locator("th a")).to_have_text("BTC/USD")
    expect(btc.locator(".value")).not_to_have_text(NOTHING)
    expect(btc.locator(".change")).to_have_text(re.compile(rf"^[+{MINUS}]?\d+\.\d\d %$"))
    # Ranks are refreshed in the background after the first ticks; the table takes them up
    # with its periodic refresh, without a reload.
    expect(btc.locator(".rank")).to_contain_text("of", timeout=30_000)
    points = btc.locator(".spark polyline").get_attribute("points") or ""
    assert len(points.split()) >= 24  # a day of hourly closes
    expect(btc.locator(".badge.stale")).to_be_hidden()


def test_a_new_tick_shows_up_without_a_reload(page, live_tracker):
    page.goto("/")
    live(page)
    page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
    price = 27_912.25
    live_tracker.kraken.prices.set("BTC/USD", price)
    btc = page.locator(f'tr[data-metric="{metric_id(page, "BTC/USD")}"]')
    expect(btc.locator(".value")).to_have_text("27,912.3", timeout=10_000)
    assert btc.get_attribute("data-value") == str(price)
    assert page.evaluate("window.loadedOnce") is True


def test_the_columns_sort_from_the_keyboard(page, live_tracker):
    page.goto("/")
    last = page.locator('button[data-sort="value"]')
    last.focus()
    page.keyboard.press("Enter")
    expect(last.locator("xpath=..")).to_have_attribute("aria-sort", "descending")
    values = [
        float(v)
        for v in page.locator("#overview-rows tr").evaluate_all(
            "rows => rows.map(r => r.dataset.value).filter(v => v !== '')"
        )
    ]
    assert values == sorted(values, reverse=True)
    page.keyboard.press("Enter")
    expect(last.locator("xpath=..")).to_have_attribute("aria-sort", "ascending")


def test_the_filters_narrow_the_table(page, live_tracker):
    page.goto("/")
    page.locator("select[name=kind]").select_option("volume")
    page.get_by_role("searchbox", name="Pair").fill("eth")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#overview-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-pair", "ETH/USD")
    expect(rows.first).to_have_attribute("data-kind", "volume")


def test_the_overview_looks_right_on_every_screen(new_page, live_tracker, screenshot):
    for look in LOOKS:
        page = new_page(base_url=live_tracker.url, look=look)
        page.goto("/")
        live(page)
        table = page.locator("#overview")
        expect(table).to_be_visible()
        # On a phone the table fits: no sideways scrolling for the pair, value and move.
        change = page.locator("#overview-rows tr").first.locator(".change")
        box = change.bounding_box()
        assert box is not None and box["x"] + box["width"] <= look.screen.width
        screenshot(page, f"overview-{look.name}")


def test_an_exchange_that_stops_answering_is_marked_stale(page, live_tracker):
    page.goto("/")
    live(page)
    badge = page.locator(f'tr[data-metric="{metric_id(page, "SOL/USD")}"] .badge.stale')
    expect(badge).to_be_hidden()
    live_tracker.kraken.misbehave("http_error")
    try:
        # Three intervals of one second without a tick, checked every five seconds.
        expect(badge).to_be_visible(timeout=15_000)
        expect(badge).to_have_text("stale")
    finally:
        live_tracker.kraken.behave()
    expect(badge).to_be_hidden(timeout=15_000)  # the next tick clears it
