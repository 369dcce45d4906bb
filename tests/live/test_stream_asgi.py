"""The stream through the server's own ASGI handler: a client that disconnects leaves nothing
behind, and a closed tracker (TRACKER_PUBLIC_READ off) refuses anonymous streams in JSON."""

from __future__ import annotations

import asyncio
import gc
import types
from typing import Any

import pytest

from tracker.api.stream import stream_events
from tracker.common.asgi import SharedThreadASGIHandler
from tracker.live.relay import ticks_follow

pytestmark = pytest.mark.django_db(transaction=True)


def scope(path: str = "/api/v1/stream") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def live_streams() -> int:
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if type(o) is types.AsyncGeneratorType
        and o.ag_code is stream_events.__code__
        and o.ag_frame
    )


async def connect(
    handler: SharedThreadASGIHandler,
) -> tuple[asyncio.Task[None], list[dict[str, Any]], asyncio.Event]:
    sent: list[dict[str, Any]] = []
    gone = asyncio.Event()
    body_started = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            body_started.set()

    task = asyncio.create_task(handler(scope(), receive, send))
    async with asyncio.timeout(10):
        await body_started.wait()
    return task, sent, gone


def test_clients_that_disconnect_leave_no_stream_behind(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.REDIS_URL = ""
    handler = SharedThreadASGIHandler()

    async def main() -> None:
        clients = [await connect(handler) for _ in range(5)]
        assert clients[0][1][0]["status"] == 200
        assert live_streams() == 5
        ticks_follow().publish(
            records=[(1, __import__("datetime").datetime.now().astimezone(), 1.0)]
        )
        for task, _, gone in clients:
            gone.set()
            async with asyncio.timeout(10):
                await task
        assert live_streams() == 0
        for _, sent, _ in clients:
            assert any(b"event: records" in m.get("body", b"") for m in sent)

    asyncio.run(main())


def test_anonymous_streams_are_refused_when_reads_are_not_public(settings, api):
    settings.TRACKER_PUBLIC_READ = False
    answer = api.get("/api/v1/stream", HTTP_ACCEPT="text/event-stream")
    assert answer.status_code == 401
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["detail"]
