"""What browser tests do often: open guarded pages, sign in, take screenshots."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page

from tests.process import ROOT
from tests.waiting import wait_until

from .chromium import DESKTOP, ColorScheme, Look, PageGuard, Screen, context_open

T = TypeVar("T")
SCREENSHOTS = ROOT / "docs" / "screenshots"


class PageFactory:
    """`new_page(...)` opens a page in a fresh context (its own cookies) behind a guard;
    `close()` closes them all and returns every problem their guards recorded."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._contexts: list[tuple[BrowserContext, PageGuard]] = []
        self._guards: dict[Page, PageGuard] = {}

    def __call__(
        self,
        *,
        base_url: str | None = None,
        screen: Screen = DESKTOP,
        color_scheme: ColorScheme = "light",
        look: Look | None = None,
    ) -> Page:
        if look is not None:
            screen, color_scheme = look.screen, look.color_scheme
        context, guard = context_open(
            self.browser, base_url=base_url, screen=screen, color_scheme=color_scheme
        )
        self._contexts.append((context, guard))
        page = context.new_page()
        self._guards[page] = guard
        return page

    def guard(self, page: Page) -> PageGuard:
        """The guard of `page`'s context (shared by the pages the context opens)."""
        return self._guards[page]

    def close(self) -> list[str]:
        problems = []
        for context, guard in self._contexts:
            context.close()
            problems += guard.problems()
        self._contexts.clear()
        self._guards.clear()
        return problems


def login(page: Page, username: str, password: str, *, path: str = "/login") -> None:
    """Sign in through the Django login form at `path` (fields `username` and `password`);
    fails naming what the form said if the sign-in did not take."""
    page.goto(path)
    login_path = urlsplit(page.url).path
    form = page.locator("form", has=page.locator("input[name=password]"))
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    signed_in = any(cookie["name"] == "sessionid" for cookie in page.context.cookies())
    if urlsplit(page.url).path == login_path or not signed_in:
        said = page.locator(".errorlist, .alert, [role=alert]").all_inner_texts()
        raise AssertionError(f"could not sign in as {username!r} at {path}: {said or page.url}")


def page_wait_until(
    page: Page, condition: Callable[[], T], *, timeout: float, what: str, every_ms: float = 50
) -> T:
    """`tests.waiting.wait_until` for conditions on what the page's handlers record: the sync
    API delivers events only while it is called, so the wait runs in the browser's time."""
    return wait_until(
        condition,
        timeout=timeout,
        what=what,
        every=every_ms / 1000,
        pause=lambda seconds: page.wait_for_timeout(seconds * 1000),
    )


def screenshots_dir(fallback: Path) -> Path:
    """docs/screenshots when TRACKER_SCREENSHOTS=1 (`make screenshots`), else `fallback` (a test's
    tmp dir), so an ordinary run never changes the repository."""
    return SCREENSHOTS if os.environ.get("TRACKER_SCREENSHOTS") == "1" else fallback


def screenshot_take(page: Page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No animations, no caret: the same page gives the same picture from one run to the next.
    page.screenshot(path=path, animations="disabled", caret="hide")
    return path
