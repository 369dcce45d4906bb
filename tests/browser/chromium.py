"""Debian's Chromium driven by Playwright, and the guard every test page runs behind.

Playwright's own browser downloads are never used: the browser is the system Chromium
(`/usr/bin/chromium`, or `TRACKER_CHROMIUM`), which `make chromium` installs from Debian.
Each page records what would make a test untrustworthy: console errors, uncaught exceptions,
and any request to a host other than this machine, which is aborted before it leaves.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Playwright,
    Route,
    WebSocketRoute,
)

CHROMIUM = Path(os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium"))
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 10_000  # a page that has not answered in 10 s is broken; Playwright waits 30 s

# Quiet, offline Chromium: none of its own calls home (updates, sync, translation, metrics,
# safe browsing lists), and no host name resolves but localhost, so even a request the page
# guard cannot see (the browser's own) fails here instead of leaving the machine.
ARGS = (
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
)

ColorScheme = Literal["light", "dark"]


@dataclass(frozen=True)
class Screen:
    width: int
    height: int
    mobile: bool = False


DESKTOP = Screen(1280, 800)
PHONE = Screen(375, 812, mobile=True)


@dataclass(frozen=True)
class Look:
    """One way a page is looked at: a screen and a colour scheme; `name` ends screenshot names."""

    name: str
    screen: Screen
    color_scheme: ColorScheme


LOOKS = (
    Look("desktop-light", DESKTOP, "light"),
    Look("desktop-dark", DESKTOP, "dark"),
    Look("phone-light", PHONE, "light"),
    Look("phone-dark", PHONE, "dark"),
)


def chromium_launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `make chromium` installs Debian's "
            "(or set TRACKER_CHROMIUM to another Chromium)"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(ARGS))


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about: never reach the network
    return parts.hostname in LOCAL_HOSTS


@dataclass
class PageGuard:
    """What went wrong on one browser context's pages; a test fails if anything did."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"request to another host (aborted): {url}" for url in self.outside_requests]
            + [f"console error: {text}" for text in self.console_errors]
            + [f"uncaught exception: {text}" for text in self.page_errors]
        )

    def clear(self) -> None:
        """Forget what was recorded: for tests that provoke problems on purpose."""
        self.console_errors.clear()
        self.page_errors.clear()
        self.outside_requests.clear()

    def watch(self, context: BrowserContext) -> None:
        context.route("**/*", self._route)
        context.route_web_socket(re.compile(".*"), self._route_web_socket)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.page_errors.append(_error_text(error.error)))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.fallback()
        else:
            self.outside_requests.append(url)
            route.abort("blockedbyclient")

    def _route_web_socket(self, socket: WebSocketRoute) -> None:
        if is_local(socket.url):
            socket.connect_to_server()
        else:
            self.outside_requests.append(socket.url)
            socket.close(code=1008, reason="tests stay on this machine")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            line = message.location.get("lineNumber")
            self.console_errors.append(
                f"{message.text} ({where}:{line})" if where else message.text
            )


def _error_text(error: Error) -> str:
    return f"{error.name}: {error.message}" if error.name else error.message


def context_open(
    browser: Browser,
    *,
    base_url: str | None = None,
    screen: Screen = DESKTOP,
    color_scheme: ColorScheme = "light",
) -> tuple[BrowserContext, PageGuard]:
    """A fresh context (no cookies, no storage) with its guard, in UTC and US English so what
    pages print does not depend on the machine."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": screen.width, "height": screen.height},
        is_mobile=screen.mobile,
        has_touch=screen.mobile,
        color_scheme=color_scheme,
        locale="en-US",
        timezone_id="UTC",
        service_workers="block",  # a service worker's requests would bypass the guard
    )
    context.set_default_timeout(TIMEOUT_MS)
    guard = PageGuard()
    guard.watch(context)
    return context, guard
