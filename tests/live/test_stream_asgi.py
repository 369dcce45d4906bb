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


def scope(
    path: str = "/api/v1/stream", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
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
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/event-stream"), *(headers or [])],
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
    handler: SharedThreadASGIHandler, headers: list[tuple[bytes, bytes]] | None = None
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

    task = asyncio.create_task(handler(scope(headers=headers), receive, send))
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


def test_a_revoked_token_stops_streaming_within_the_connections_lifetime(settings):
    """The server ends each connection after TRACKER_STREAM_MAX_AGE, telling the client where
    it is; its reconnection is authenticated again, and a revoked token is refused."""
    from django.contrib.auth.models import User

    from tracker.accounts import services
    from tracker.common.clock import utc_now

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.REDIS_URL = ""
    settings.TRACKER_PUBLIC_READ = False
    settings.TRACKER_STREAM_MAX_AGE = 1.0
    owner = User.objects.create_user("ada", password="ada's long passphrase")
    issued = services.token_issue(user=owner, now=utc_now())
    bearer = [(b"authorization", b"Bearer " + issued.key.encode())]
    handler = SharedThreadASGIHandler()

    async def main() -> None:
        task, sent, _ = await connect(handler, headers=bearer)
        assert sent[0]["status"] == 200
        await asyncio.to_thread(services.token_revoke, token=issued.token)
        async with asyncio.timeout(10):
            await task  # the server ended the response on its own
        body = b"".join(m.get("body", b"") for m in sent)
        assert sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body")
        last_id = [line for line in body.split(b"\n") if line.startswith(b"id: ")][-1][4:]
        again, answer, _ = await connect(handler, headers=[*bearer, (b"last-event-id", last_id)])
        async with asyncio.timeout(10):
            await again
        assert answer[0]["status"] == 401

    asyncio.run(main())
