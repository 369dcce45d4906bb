"""The stream's body, read straight from its generator: resume, reset, filters, heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tracker.api.stream import stream_events
from tracker.live.ticks import Hub

pytestmark = pytest.mark.once
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def tick(hub: Hub, *metrics: int) -> None:
    hub.publish(records=[(m, T0, float(m)) for m in metrics])


def body(hub: Hub, **kwargs: object) -> AsyncIterator[bytes]:
    options: dict[str, object] = {"metrics": None, "last_event_id": None, "heartbeat": 10.0}
    options.update(kwargs)
    return stream_events(follow=lambda: hub, **options)  # type: ignore[arg-type]


async def take(stream: AsyncIterator[bytes], parts: int) -> bytes:
    async with asyncio.timeout(5):
        return b"".join([await anext(stream) for _ in range(parts)])


def test_a_new_client_starts_live_at_the_newest_id_then_gets_each_tick():
    hub = Hub(epoch="E")
    tick(hub, 1)

    async def main() -> None:
        stream = body(hub)
        assert await take(stream, 1) == b"retry: 3000\nid: E-1\n\n"
        tick(hub, 1, 2)
        assert await take(stream, 1) == (
            b"id: E-2\nevent: records\ndata: ["
            b'{"metric":1,"timestamp":"2024-03-01T12:00:00Z","value":1.0},'
            b'{"metric":2,"timestamp":"2024-03-01T12:00:00Z","value":2.0}]\n\n'
        )
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_a_resume_replays_what_came_after_its_id_filtered_then_goes_on_live():
    hub = Hub(epoch="E")
    for metric in (1, 2, 1, 3):
        tick(hub, metric)  # E-1 .. E-4

    async def main() -> None:
        stream = body(hub, last_event_id="E-1", metrics=frozenset({1, 3}))
        assert await take(stream, 1) == b"retry: 3000\n\n"
        replay = await take(stream, 1)
        assert replay.count(b"event: records") == 2  # E-2 has only metric 2
        assert b"id: E-3\n" in replay and b"id: E-4\n" in replay and b"E-2" not in replay
        tick(hub, 2)
        tick(hub, 3)
        assert (await take(stream, 1)).startswith(b"id: E-6\nevent: records\n")
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_an_unknown_id_is_a_reset_at_the_newest_position():
    hub = Hub(epoch="E")
    tick(hub, 1)

    async def main() -> None:
        stream = body(hub, last_event_id="OLD-7")
        head = await take(stream, 1)
        assert head.startswith(b'retry: 3000\nid: E-1\nevent: reset\ndata: {"reason":')
        assert b"OLD-7" in head
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_a_client_behind_the_ring_is_reset_and_goes_on_live():
    hub = Hub(epoch="E", keep_entries=3)

    async def main() -> None:
        stream = body(hub)
        await take(stream, 1)
        for _ in range(10):
            tick(hub, 1)  # the client reads nothing meanwhile
        reset = await take(stream, 1)
        assert reset.startswith(b"id: E-10\nevent: reset\n")
        tick(hub, 1)
        assert (await take(stream, 1)).startswith(b"id: E-11\nevent: records\n")
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_a_heartbeat_when_quiet_carrying_the_position_a_filter_skipped():
    hub = Hub(epoch="E")

    async def main() -> None:
        stream = body(hub, metrics=frozenset({9}), heartbeat=0.05)
        await take(stream, 1)
        assert await take(stream, 1) == b": keepalive\n\n"
        tick(hub, 1)  # not for this client
        assert await take(stream, 1) == b"id: E-1\n\n: keepalive\n\n"
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_closing_the_hub_ends_the_stream():
    hub = Hub(epoch="E")

    async def main() -> None:
        stream = body(hub)
        await take(stream, 1)
        hub.close()
        with pytest.raises(StopAsyncIteration):
            await take(stream, 1)

    asyncio.run(main())


def test_a_connection_ends_after_its_lifetime_telling_the_client_where_it_is():
    hub = Hub(epoch="E")
    tick(hub, 1)

    async def main() -> bytes:
        stream = body(hub, metrics=frozenset({2}), max_age=0.5)
        head = await take(stream, 1)
        tick(hub, 1)  # E-2: not for this client, whose position still moves
        async with asyncio.timeout(5):
            rest = b"".join([part async for part in stream])
        return head + rest

    sent = asyncio.run(main())
    assert sent == b"retry: 3000\nid: E-1\n\nid: E-2\n\n"
