"""The browser tests' own machinery works against what the tracker serves today: Chromium
renders the browsable API cleanly, sign-in works, and the guard catches what it must."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, expect

from tests.waiting import wait_until

from .chromium import LOOKS, PHONE
from .helpers import PageFactory, login, page_wait_until, screenshot_take, screenshots_dir
from .live import LiveTracker
from .seed import POINTS


def test_the_browsable_api_renders_with_nothing_wrong(page, live_tracker):
    response = page.goto("/api/v1/")
    assert response is not None and response.ok
    expect(page.locator(".response-info")).to_be_visible()
    # Its stylesheet arrived and applies (a missing one would also be a console error).
    assert page.locator(".navbar").evaluate("e => getComputedStyle(e).position") != "static"


def test_the_tracker_has_a_day_of_history_and_follows_the_exchange(page, live_tracker):
    metrics = page.request.get("/api/v1/metrics").json()
    btc = next(m["id"] for m in metrics if (m["pair"], m["metric"]) == ("BTC/USD", "price"))

    def latest() -> float:
        return float(page.request.get(f"/api/v1/metrics/{btc}/records").json()[-1]["value"])

    assert len(page.request.get(f"/api/v1/metrics/{btc}/records").json()) >= POINTS
    live_tracker.kraken.prices.set("BTC/USD", 27800.5)  # near where it was: tests share it
    wait_until(lambda: latest() == 27800.5, timeout=15, what="a poll of the new price")


def test_a_user_signs_in_through_the_form(page, live_tracker: LiveTracker):
    user = live_tracker.user
    login(page, user.username, user.password, path="/api/v1/auth/login/")
    page.goto("/api/v1/")
    expect(page.locator(".navbar")).to_contain_text(user.username)


def test_a_wrong_password_fails_the_sign_in(page, live_tracker: LiveTracker):
    with pytest.raises(AssertionError, match="could not sign in"):
        login(page, live_tracker.user.username, "not the password", path="/api/v1/auth/login/")


class _Site(ThreadingHTTPServer):
    """Serves `page` at / and records the paths asked for."""

    def __init__(self, host: str, page: str = "") -> None:
        self.page = page.encode()
        self.hits: list[str] = []
        super().__init__((host, 0), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body = self.server.page if self.path == "/" else b"not here"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sites() -> Iterator[tuple[_Site, _Site]]:
    """A page on 127.0.0.1 that asks for things from 127.0.0.2: reachable from here, but not
    an address the guard lets through, so a hit there would show a request that got out."""
    elsewhere = _Site("127.0.0.2")
    here = _Site(
        "127.0.0.1",
        f"""<!doctype html><title>leaky</title>
        <img src="http://example.com/x.png">
        <img src="{elsewhere.url}/pixel.png">
        <script>new WebSocket("{elsewhere.url.replace("http", "ws")}/feed")</script>""",
    )
    for site in (here, elsewhere):
        threading.Thread(target=site.serve_forever, daemon=True).start()
    yield here, elsewhere
    for site in (here, elsewhere):
        site.shutdown()
        site.server_close()


def test_requests_off_this_machine_are_stopped_and_reported(new_page, sites):
    here, elsewhere = sites
    page = new_page()
    page.goto(here.url, wait_until="load")
    guard = new_page.guard(page)
    outside = {"http://example.com/x.png", f"{elsewhere.url}/pixel.png"}
    # The two images and the WebSocket.
    page_wait_until(
        page, lambda: len(guard.outside_requests) == 3, timeout=10, what="three requests out"
    )
    assert set(guard.outside_requests) >= outside
    assert elsewhere.hits == [], "a request reached another host"
    assert here.hits == ["/"]
    problems = guard.problems()
    assert all(any(url in p for p in problems) for url in outside)
    guard.clear()  # provoked on purpose; anything else still fails the test


def test_console_errors_and_exceptions_are_reported(browser: Browser, sites):
    here, _ = sites
    pages = PageFactory(browser)
    page = pages()
    page.goto(here.url + "/nothing-here")  # a 404: a console error of its own, too
    page.evaluate("console.error('something broke')")
    page.evaluate("setTimeout(() => { throw new TypeError('no such thing') })")
    guard = pages.guard(page)
    page_wait_until(page, lambda: guard.page_errors, timeout=10, what="the uncaught exception")
    problems = pages.close()
    assert any("console error: something broke" in p for p in problems)
    assert any("uncaught exception: TypeError: no such thing" in p for p in problems)


def test_looks_and_screenshots(new_page, live_tracker, tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_SCREENSHOTS", raising=False)
    assert screenshots_dir(tmp_path) == tmp_path  # an ordinary run leaves docs/ alone
    for look in LOOKS:
        page = new_page(base_url=live_tracker.url, look=look)
        page.goto("/api/v1/")
        dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        assert dark == (look.color_scheme == "dark")
        if look.screen == PHONE:
            png = screenshot_take(page, tmp_path / f"{look.name}.png").read_bytes()
            assert struct.unpack(">II", png[16:24]) == (PHONE.width, PHONE.height)
