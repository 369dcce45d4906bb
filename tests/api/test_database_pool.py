"""Under load the server holds at most `DATABASE_POOL_SIZE` PostgreSQL connections, and no
request fails for want of one.

Sync views run in a thread per request under ASGI; with persistent connections each thread
kept its own, and 20 clients ran PostgreSQL out of connections. Here 50 clients read for 30
seconds from `runtracker` (the poller writing every second in the same process) while
`pg_stat_activity` is sampled; the load stops early once the bound is broken, so a regression
fails fast instead of starving the database server.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.kraken import FakeKraken
from tests.postgres import connection_count, database_url, scratch_database, server_connect
from tests.process import manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(180)]
POOL_SIZE = 4
CLIENTS = 50
SECONDS = 30.0


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[TrackerServer, str]]:
    with FakeKraken() as kraken, scratch_database("load") as name:
        env = tracker_env(
            tmp_path,
            DATABASE_URL=database_url(name),
            DATABASE_POOL_SIZE=str(POOL_SIZE),
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD,ETH/USD",
            # Throttling is not under test; a one-second window keeps its bookkeeping small.
            TRACKER_THROTTLE_ANON="100000/s",
        )
        migrated = manage("migrate", "--no-input", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        with TrackerServer(env=env) as tracker:
            yield tracker, name


class Sampler(threading.Thread):
    """Counts the database's sessions every 50 ms; sets `broken` once over `bound`."""

    def __init__(self, name: str, bound: int) -> None:
        super().__init__(daemon=True)
        self.name_ = name
        self.bound = bound
        self.samples: list[int] = []
        self.broken = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        with server_connect() as admin:
            while not self.done.is_set():
                count = connection_count(admin, self.name_)
                self.samples.append(count)
                if count > self.bound:
                    self.broken.set()
                self.done.wait(0.05)


async def load(base: str, paths: list[str], *, seconds: float, stop: threading.Event) -> Counter:
    outcomes: Counter = Counter()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def client(rng: random.Random) -> None:
        # A client of its own for each: one connection, kept alive and always busy.
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    response = await http.get(rng.choice(paths))
                    outcomes[response.status_code] += 1
                except httpx.HTTPError as exc:
                    outcomes[f"{type(exc).__name__}: {exc}"] += 1

    await asyncio.gather(*(client(random.Random(i)) for i in range(CLIENTS)))
    return outcomes


def test_fifty_clients_for_thirty_seconds_stay_within_the_pool(server):
    tracker, name = server
    metrics = wait_until(
        lambda: httpx.get(tracker.url + "/api/v1/metrics").json(),
        timeout=30,
        what="the first poll",
    )
    paths = ["/api/v1/metrics"]
    for metric in metrics:
        paths += [f"/api/v1/metrics/{metric['id']}", f"/api/v1/metrics/{metric['id']}/records"]

    # The pool's connections (the poller's come from it too) and one being replaced.
    sampler = Sampler(name, bound=POOL_SIZE + 1)
    sampler.start()
    try:
        outcomes = asyncio.run(load(tracker.url, paths, seconds=SECONDS, stop=sampler.broken))
    finally:
        sampler.done.set()
        sampler.join(timeout=5)

    total = sum(outcomes.values())
    print(
        f"\n{CLIENTS} clients, {SECONDS:.0f} s: {total} requests ({total / SECONDS:.0f}/s), "
        f"answers {dict(outcomes)}, at most {max(sampler.samples)} PostgreSQL sessions "
        f"(pool {POOL_SIZE})"
    )
    assert not sampler.broken.is_set(), (
        f"{max(sampler.samples)} connections, more than the pool's {POOL_SIZE} (+1)"
    )
    problems = [line for line in tracker.lines if "WARNING" in line or "ERROR" in line]
    assert set(outcomes) <= {200, 304}, (outcomes, problems[-20:])
    assert sum(outcomes.values()) > CLIENTS  # the clients did get answers
    assert max(sampler.samples) >= 1
