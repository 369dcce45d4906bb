"""Fixtures of the browser tests: Debian's Chromium through Playwright, against a live tracker.

    def test_overview(page, live_tracker, screenshot):
        login(page, live_tracker.user.username, live_tracker.user.password)
        page.goto("/")
        screenshot(page, "overview-desktop-light")

The tracker is another process with a database of its own: tests give it data through
`live_tracker.shell(code)`, `live_tracker.user_create(...)` or its stand-in exchange
(`live_tracker.kraken.prices.set(symbol, value)`), not through the in-process ORM.
Every test here is `slow` and `once` (its tracker has a SQLite file of its own). A test fails
if any page it opened logged a console error, threw, or asked for anything off this machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .chromium import chromium_launch
from .helpers import PageFactory, screenshot_take, screenshots_dir
from .live import LiveTracker, database_migrated

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.once)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (it starts in under a second); tests get fresh contexts.
    Not one per run: while Playwright's sync API is started, its event loop counts as running
    in this thread, which breaks `asyncio.run` and Django's ORM in the tests that follow."""
    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrations run once; each live tracker starts from a copy."""
    return database_migrated(tmp_path_factory.mktemp("migrated"))


@pytest.fixture(scope="module")
def live_tracker(
    tmp_path_factory: pytest.TempPathFactory, migrated_database: Path
) -> Iterator[LiveTracker]:
    """One running tracker per test module (starting one takes seconds): tests of a module
    share its database, so they add what they need rather than expect an empty one."""
    workdir = tmp_path_factory.mktemp("tracker")
    with LiveTracker(workdir, migrated=migrated_database) as tracker:
        yield tracker


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    """`new_page(base_url=..., screen=PHONE, color_scheme="dark")` or `new_page(look=...)`:
    pages in fresh contexts; the test fails at teardown if any of them had a problem."""
    factory = PageFactory(browser)
    yield factory
    problems = factory.close()
    if problems:
        pytest.fail("the browser saw problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def page(new_page: PageFactory, live_tracker: LiveTracker) -> Page:
    """A desktop page in light mode whose relative URLs are the live tracker's."""
    return new_page(base_url=live_tracker.url)


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """`screenshot(page, name)`: the visible part of `page` as `<name>.png`, in docs/screenshots
    when TRACKER_SCREENSHOTS=1 (`make screenshots`), else in the test's tmp dir."""
    folder = screenshots_dir(tmp_path)
    return lambda page, name: screenshot_take(page, folder / f"{name}.png")
