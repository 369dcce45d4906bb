"""Alerts in Chromium, as a user sets them up: a webhook channel and a rule made through the
forms, a test notification, then a spike on the stand-in exchange that fires the rule and
shows in the history and on the metric's chart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.receiver import Receiver
from tests.waiting import wait_until

from .chromium import LOOKS
from .helpers import login
from .pages import metric_id

CALM_TICKS = 20  # polls a second apart
SEEDED_LAST_HOUR = 12  # the seeded history, every five minutes


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with Receiver("webhook") as receiver:
        yield receiver


def _latest_price(page: Page, metric: int) -> float:
    return float(page.request.get(f"/api/v1/metrics/{metric}/records").json()[-1]["value"])


def test_a_user_sets_up_an_alert_and_sees_it_fire(page, live_tracker, hook, screenshot):
    user = live_tracker.user
    login(page, user.username, user.password)

    page.goto("/alerts/channels/new")
    page.get_by_label("Name").fill("my hook")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("URL").fill(f"{hook.url}/alerts")
    page.get_by_role("button", name="Create").click()
    row = page.locator("tr", has_text="my hook")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Send test").click()
    expect(page.locator(".messages")).to_contain_text("test", ignore_case=True)
    (test,) = hook.wait_for(1, timeout=10)
    assert test.json()["status"] == "test"

    page.goto("/alerts/rules/new")
    page.get_by_label("Name").fill("BTC jumps")
    page.get_by_label("Watch every metric of a kind").select_option("price")
    page.get_by_label("Window").fill("1m")
    page.get_by_label("Minimum samples").fill("3")
    page.get_by_label("my hook").check()
    page.get_by_role("button", name="Create").click()
    expect(page.locator("tr", has_text="BTC jumps")).to_be_visible()

    btc = metric_id(page, "BTC/USD")
    calm = _latest_price(page, btc)
    # A calm minute first: the window's average must be the calm level for a jump to 4x of it
    # to be over 3x (the jump's own records count in the average too).
    wait_until(
        lambda: (
            len(page.request.get(f"/api/v1/metrics/{btc}/records?range=1h").json())
            >= CALM_TICKS + SEEDED_LAST_HOUR
        ),
        timeout=60,
        what="calm ticks in the rule's window",
    )
    live_tracker.kraken.prices.set("BTC/USD", calm * 4)
    try:
        fired = hook.wait_for(2, timeout=60)[1]  # polls are slow on a loaded machine
    finally:
        live_tracker.kraken.prices.set("BTC/USD", calm)
    assert fired.json()["status"] == "firing"
    assert fired.json()["metric"]["pair"] == "BTC/USD"

    page.goto("/alerts")
    event = page.locator(".alert-event, tr, li", has_text="BTC jumps").first
    expect(event).to_be_visible()
    expect(page.locator("main")).to_contain_text("BTC/USD")
    screenshot(page, "alerts-desktop-light")

    page.goto(f"/metrics/{btc}?range=1h")
    expect(page.locator("#alert-list")).to_contain_text("BTC jumps")
    page.wait_for_function("document.getElementById('chart').dataset.state === 'drawn'")
    screenshot(page, "metric-alert-desktop-light")


def test_forms_say_what_is_wrong_and_keep_what_was_typed(page, new_page, live_tracker):
    login(page, live_tracker.user.username, live_tracker.user.password)
    page.goto("/alerts/rules/new")
    page.get_by_label("Name").fill("nonsense")
    page.get_by_label("Factor").fill("banana")
    page.get_by_label("Window").fill("forever")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("nonsense")
    expect(page.get_by_label("Factor")).to_have_value("banana")
    # The form came back as a 400, which Chromium logs as a failed load: expected here.
    new_page.guard(page).clear()


def test_a_user_who_is_not_staff_sees_no_pair_management(new_page, live_tracker):
    page = new_page(base_url=live_tracker.url)
    login(page, live_tracker.user.username, live_tracker.user.password)
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alerts")).to_be_visible()
    expect(nav.get_by_role("link", name="Pairs")).to_have_count(0)
    expect(nav.get_by_role("link", name="Exchanges")).to_have_count(0)
    answer = page.goto("/pairs")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    new_page.guard(page).clear()  # the 403 is the point: Chromium logs it as an error


def test_staff_add_and_remove_a_pair_with_the_symbol_picker(page, live_tracker, screenshot):
    login(page, live_tracker.staff.username, live_tracker.staff.password)
    page.goto("/pairs")
    page.locator("select[name=exchange]").select_option("kraken")
    page.get_by_role("button", name="Show its symbols").click()
    offered = page.locator("datalist#symbols option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert "XRP/USD" in offered
    page.get_by_label("Symbol").fill("XRP/USD")
    page.get_by_role("button", name="Add to kraken").click()
    row = page.locator("tr", has_text="XRP/USD")
    expect(row.locator(".badge")).to_have_text("active")
    screenshot(page, "pairs-desktop-light")
    row.get_by_role("button", name="Remove").click()
    expect(page.locator("tr", has_text="XRP/USD").locator(".badge")).not_to_have_text("active")

    page.goto("/exchanges")
    expect(page.locator("main")).to_contain_text("kraken")
    expect(page.locator("main .badge").first).to_have_text("ok")


def test_the_alert_pages_look_right_on_every_screen(new_page, live_tracker, screenshot):
    for look in LOOKS:
        page = new_page(base_url=live_tracker.url, look=look)
        login(page, live_tracker.user.username, live_tracker.user.password)
        for path, name in (("/alerts/channels/new", "channel-form"), ("/alerts/rules", "rules")):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= look.screen.width, f"{path} is {width}px wide on {look.name}"
            if look.name in ("desktop-light", "phone-dark"):
                screenshot(page, f"{name}-{look.name}")
