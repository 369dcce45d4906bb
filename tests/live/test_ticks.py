"""The stream's hub: ids, resumes, resets, bounded memory, and publishes from other threads
waking the clients waiting on the event loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from tracker.live.ticks import MARK, RECORDS, RESET, Hub, record_json

pytestmark = pytest.mark.once
T0 = datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tick(hub: Hub, n: int, metrics: tuple[int, ...] = (1, 2)) -> None:
    hub.publish(records=[(m, T0 + timedelta(seconds=n), float(n)) for m in metrics])


def test_ids_count_ticks_within_the_epoch_and_records_are_json_with_z_times():
    hub = Hub(epoch="E")
    assert hub.newest.id == "E-0" and hub.newest.kind == MARK
    tick(hub, 1)
    tick(hub, 2)
    newest = hub.newest
    assert (newest.id, newest.kind) == ("E-2", RECORDS)
    assert orjson.loads(newest.data) == [
        {"metric": 1, "timestamp": "2024-03-01T12:00:02.250000Z", "value": 2.0},
        {"metric": 2, "timestamp": "2024-03-01T12:00:02.250000Z", "value": 2.0},
    ]
    assert newest.metric_ids == {1, 2}
    assert record_json(3, T0.astimezone(timezone(timedelta(hours=2))), 1.5) == (
        b'{"metric":3,"timestamp":"2024-03-01T12:00:00.250000Z","value":1.5}'
    )


def test_ids_given_by_a_shared_counter_are_kept_and_move_the_epoch():
    hub = Hub(epoch="local")
    hub.mark(epoch="R", seq=41)
    hub.publish(records=[(1, T0, 1.0)], id="R-42")
    tick(hub, 2)  # numbered on from the last id seen
    assert [e.id for e in hub.read(after=1) or []] == ["R-41", "R-42", "R-43"]  # after the start


def test_a_resume_reads_everything_after_its_id_in_order():
    hub = Hub(epoch="E")
    for n in range(1, 6):
        tick(hub, n)
    position = hub.position("E-2")
    assert position is not None
    entries = hub.read(after=position)
    assert [e.id for e in entries or []] == ["E-3", "E-4", "E-5"]
    assert hub.read(after=hub.newest.serial) == []
    assert [e.id for e in hub.read(after=position, limit=2) or []] == ["E-3", "E-4"]


def test_ids_of_another_epoch_or_unknown_cannot_be_resumed_from():
    hub = Hub(epoch="E")
    tick(hub, 1)
    assert hub.position("F-1") is None
    assert hub.position("E-9") is None
    assert hub.position("garbage") is None


def test_old_ticks_leave_the_ring_by_age_and_a_reader_behind_them_is_told():
    clock = Clock()
    hub = Hub(epoch="E", keep_seconds=60, clock=clock)
    tick(hub, 1)
    reader = hub.newest.serial
    clock.now += 61
    tick(hub, 2)
    assert hub.position("E-1") is None  # gone: a resume from it is a reset
    assert hub.read(after=reader - 1) is None  # the reader had not read E-1: it fell behind
    assert [e.id for e in hub.read(after=reader) or []] == ["E-2"]  # it had: nothing is lost
    clock.now += 3600
    assert hub.newest.id == "E-2"  # the newest always stays: a new client's position
    assert hub.sizes()[0] == 1


def test_the_ring_is_bounded_in_records_whatever_the_clients_do():
    hub = Hub(epoch="E", keep_records=1000, keep_entries=500)
    for n in range(1, 501):
        tick(hub, n, metrics=tuple(range(1, 11)))
    assert hub.sizes() == (100, 1000)
    hub = Hub(epoch="E", keep_records=10**9, keep_entries=50)
    for n in range(1, 201):
        tick(hub, n, metrics=(1,))
    assert hub.sizes() == (50, 50)
    assert hub.newest.id == "E-200"


def test_a_reset_carries_its_reason_and_its_position():
    hub = Hub(epoch="E")
    tick(hub, 1)
    entry = hub.reset(reason="the feed broke", epoch="F", seq=7)
    assert (entry.kind, entry.id) == (RESET, "F-7")
    assert orjson.loads(entry.data) == {"reason": "the feed broke"}
    tick(hub, 2)
    assert hub.newest.id == "F-8"


def test_a_publish_from_another_thread_wakes_every_waiting_client_at_once():
    hub = Hub(epoch="E")

    async def main() -> list[bool]:
        after = hub.newest.serial
        waiters = [asyncio.create_task(hub.wait(after=after, seconds=10)) for _ in range(100)]
        await asyncio.sleep(0)  # every waiter is waiting on the shared future now
        assert len(hub._futures) == 1
        threading.Thread(target=tick, args=(hub, 1)).start()
        async with asyncio.timeout(5):
            return await asyncio.gather(*waiters)

    assert asyncio.run(main()) == [True] * 100


def test_a_wait_times_out_without_a_publish_and_a_cancelled_waiter_harms_no_other():
    hub = Hub(epoch="E")

    async def main() -> None:
        after = hub.newest.serial
        assert await hub.wait(after=after, seconds=0.01) is False
        first = asyncio.create_task(hub.wait(after=after, seconds=10))
        second = asyncio.create_task(hub.wait(after=after, seconds=10))
        await asyncio.sleep(0)
        first.cancel()  # a client that disconnected
        await asyncio.sleep(0)
        tick(hub, 1)
        async with asyncio.timeout(5):
            assert await second is True
        assert await hub.wait(after=after, seconds=10) is True  # something is already there

    asyncio.run(main())


def test_closing_wakes_the_waiters():
    hub = Hub(epoch="E")

    async def main() -> bool:
        waiter = asyncio.create_task(hub.wait(after=hub.newest.serial, seconds=10))
        await asyncio.sleep(0)
        threading.Thread(target=hub.close).start()
        async with asyncio.timeout(5):
            return await waiter

    assert asyncio.run(main()) is True
    assert hub.closed


def test_a_publish_while_no_loop_waits_or_after_a_loop_closed_is_fine():
    hub = Hub(epoch="E")

    async def wait_briefly() -> None:
        await hub.wait(after=hub.newest.serial, seconds=0.01)

    asyncio.run(wait_briefly())  # leaves a future behind on a loop now closed
    tick(hub, 1)
    tick(hub, 2)
    assert hub.newest.id == "E-2"
