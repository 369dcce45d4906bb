"""Bodies over TRACKER_API_MAX_BODY are refused with a 413 before the application reads them.

Django's ASGI handler would spool any body to a temporary file first, whatever its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.kraken import FakeKraken
from tests.process import manage, tracker_env
from tests.server import TrackerServer
from tracker.common.body_limit import BodyLimit


def call(limit: int, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[Any, int]:
    """Run BodyLimit around an application that reads the whole body; (status, bytes it read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def application(scope: Any, receive: Any, send: Any) -> None:
        nonlocal read
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": headers}
    asyncio.run(BodyLimit(application, max_bytes=limit)(scope, receive, send))
    return sent[0]["status"], read


def test_a_declared_length_over_the_limit_is_refused_unread():
    assert call(100, [(b"content-length", b"101")], [b"x" * 101]) == (413, 0)


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit():
    status, read = call(100, [], [b"x" * 60, b"x" * 60, b"x" * 60])
    assert status == 413 and read <= 100


def test_a_body_within_the_limit_goes_through():
    assert call(100, [(b"content-length", b"100")], [b"x" * 50, b"x" * 50]) == (200, 100)


@pytest.fixture
def server(tmp_path) -> Iterator[TrackerServer]:
    with FakeKraken() as kraken:
        env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_API_MAX_BODY="1000")
        assert manage("migrate", "--no-input", env=env).returncode == 0
        with TrackerServer(env=env) as running:
            yield running


@pytest.mark.slow
def test_the_served_application_refuses_large_bodies_on_any_path(server):
    big = b"[" * 5000
    for path in ("/api/v1/auth/token", "/api/v1/metrics", "/admin/login/"):
        response = httpx.post(server.url + path, content=big, timeout=30)
        assert response.status_code == 413, (path, response.text)
        assert response.json() == {"detail": "The request body is larger than 1000 bytes."}

    def chunks() -> Iterator[bytes]:
        yield from [b"x" * 600] * 5  # no Content-Length: sent chunked

    streamed = httpx.post(server.url + "/api/v1/auth/token", content=chunks(), timeout=30)
    assert streamed.status_code == 413
    fine = httpx.post(server.url + "/api/v1/auth/token", json={"username": "a"}, timeout=30)
    assert fine.status_code == 400
