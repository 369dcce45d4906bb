"""Live stream capacity: how many SSE clients one server process holds, each tick on time.

One server process (uvicorn, one worker, REDIS_URL set, a scratch migrated SQLite database)
and N concurrent clients of `GET /api/v1/stream`, opened in steps (`--steps`, 250 to 2,000)
by this process on raw asyncio streams. At each step the bench publishes `--ticks` ticks of
`--records` records, one a second, on the Redis channel exactly as an ingesting process
does (the relay's Lua script: numbered, then published), and notes when each client reads
each tick's id. Per step: the share of (client, tick) pairs received within 1 s, the p50 and
p99 delivery latency, and the server's RSS growth per client (VmRSS from /proc).

Baseline, measured the same way in the same run: a bare ASGI app of a few lines (below),
served by uvicorn, listening to the same channel and writing every message to every client.
The goal: 1,000 clients, every tick within 1 s, on the tracker's server.

    .venv/bin/python bench/dashboard_stream.py [--steps 250,500,1000,2000] [--ticks 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.live.relay import PUBLISH_SCRIPT, counter_key, message_body  # noqa: E402
from tracker.live.ticks import epoch_new  # noqa: E402
from tracker.markets.events import RecordsIngested  # noqa: E402

GOAL_CLIENTS = 1000
ON_TIME = 1.0


# --- the baseline: a bare SSE app on the same channel --------------------------------------------


def bare_app(redis_url: str, channel: str):
    """Every message on `channel` to every connected client; nothing else."""
    import redis.asyncio as aredis

    clients: set[asyncio.Queue[bytes]] = set()
    started: list[asyncio.Task[None]] = []

    async def listen() -> None:
        pubsub = aredis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            id_, _, body = message["data"].partition(b" ")
            event = b"id: %s\nevent: records\ndata: %s\n\n" % (id_, body)
            for queue in clients:
                queue.put_nowait(event)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if not started:
            started.append(asyncio.create_task(listen()))
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        clients.add(queue)
        try:
            headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send(
                {"type": "http.response.body", "body": b"retry: 3000\n\n", "more_body": True}
            )
            while True:
                await send(
                    {"type": "http.response.body", "body": await queue.get(), "more_body": True}
                )
        finally:
            clients.discard(queue)

    return app


# --- the clients ----------------------------------------------------------------------------------


class Client:
    def __init__(self) -> None:
        self.seen: dict[bytes, float] = {}
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        writer.write(
            b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                raise SystemExit(f"the stream answered {status!r}")
            while await reader.readline() not in (b"\r\n", b""):
                pass
            self.ready.set()
            while line := await reader.readline():
                if line.startswith(b"id: "):
                    self.seen.setdefault(line[4:].strip(), time.monotonic())
        finally:
            writer.close()


async def open_clients(clients: list[Client], count: int, port: int) -> None:
    new = [Client() for _ in range(count)]
    for client in new:
        client.task = asyncio.create_task(client.run(port))
        await asyncio.sleep(0.002)  # a ramp, not a SYN flood on the listen backlog
    async with asyncio.timeout(120):
        await asyncio.gather(*(c.ready.wait() for c in new))
    clients.extend(new)


async def publish_ticks(
    redis_url: str, channel: str, *, ticks: int, records: int
) -> dict[bytes, float]:
    """Ticks published as an ingesting process publishes them; when each went out."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis_url)
    script = client.register_script(PUBLISH_SCRIPT)
    sent: dict[bytes, float] = {}
    for n in range(ticks):
        now = datetime.now(UTC)
        event = RecordsIngested(
            exchange_id=1,
            metric_ids=tuple(range(1, records + 1)),
            since=now,
            until=now,
            count=records,
            records=tuple((m, now, 100.0 + n) for m in range(1, records + 1)),
        )
        at = time.monotonic()
        id_ = await script(
            keys=[counter_key(channel), channel], args=[epoch_new(), message_body(event)]
        )
        sent[id_ if isinstance(id_, bytes) else str(id_).encode()] = at
        await asyncio.sleep(1.0)
    await client.aclose()
    return sent


async def measure(
    port: int, pid: int, *, steps: list[int], redis_url: str, channel: str, ticks: int, records: int
) -> list[tuple[int, float, float, float, float]]:
    """Per step: (clients, share on time, p50, p99, RSS KiB per client)."""
    clients: list[Client] = []
    results = []
    await open_clients(clients, 1, port)  # what the first request loads is not per client
    await asyncio.sleep(1.0)
    base_rss = rss_kib(pid)
    for target in steps:
        await open_clients(clients, target - len(clients), port)
        await asyncio.sleep(1.0)  # the server settles after the ramp
        grown = rss_kib(pid) - base_rss
        sent = await publish_ticks(redis_url, channel, ticks=ticks, records=records)
        await asyncio.sleep(ON_TIME + 1.0)
        delays = [
            (c.seen[i] - at) if i in c.seen else float("inf")
            for c in clients
            for i, at in sent.items()
        ]
        delays.sort()
        on_time = sum(d <= ON_TIME for d in delays) / len(delays)
        p50 = delays[len(delays) // 2]
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        results.append((target, on_time, p50, p99, grown / (target - 1)))
    for client in clients:
        assert client.task is not None
        client.task.cancel()
    await asyncio.gather(*(c.task for c in clients if c.task), return_exceptions=True)
    return results


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not listen within 60 s")


def run_one(name: str, command: list[str], env: dict[str, str], port: int, args, log: Path):
    server = serve(command, env, port, log)
    try:
        return asyncio.run(
            measure(
                port,
                server.pid,
                steps=args.steps,
                redis_url=args.redis,
                channel=env["TRACKER_STREAM_CHANNEL"],
                ticks=args.ticks,
                records=args.records,
            )
        )
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="250,500,1000,2000")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    )
    parser.add_argument("--bare-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = [int(s) for s in args.steps.split(",")]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    if hard < max(args.steps) * 2 + 100:
        raise SystemExit(f"open files are limited to {hard}; raise the hard limit")

    scratch = Path(tempfile.mkdtemp(prefix="tracker-stream-"))
    channel = f"bench-stream:{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{scratch / 'stream.sqlite3'}",
        "TRACKER_VAR_DIR": str(scratch),
        "TRACKER_ENV_FILE": "/dev/null",
        "DJANGO_SECRET_KEY": "bench-stream",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TRACKER_THROTTLE_ANON": "100000000/min",
        "TRACKER_LOG_LEVEL": "WARNING",
        "REDIS_URL": args.redis,
        "TRACKER_STREAM_CHANNEL": channel,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=False
    )
    if migrated.returncode:
        raise SystemExit("migrate failed")
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log"]
    port = free_port()
    tracker = run_one(
        "tracker",
        [*uvicorn, "--port", str(port), "config.asgi:application"],
        env,
        port,
        args,
        scratch / "tracker.log",
    )
    port = free_port()
    factory = "bench.dashboard_stream:bare_factory"
    bare = run_one(
        "bare",
        [*uvicorn, "--port", str(port), "--factory", factory],
        env,
        port,
        args,
        scratch / "bare.log",
    )

    print(
        f"live stream: one uvicorn process, {args.ticks} ticks of {args.records} records at "
        f"1/s per step through Redis; on time = received within {ON_TIME:g} s"
    )
    print(
        f"  {'clients':>7}  {'server':<8} {'on time':>8} {'p50':>8} {'p99':>8} {'RSS/client':>11}"
        f"  {'p99 ratio to bare':>17}"
    )
    best = 0
    for (n, share, p50, p99, per), (_, b_share, b50, b99, b_per) in zip(tracker, bare, strict=True):
        ratio = p99 / b99 if b99 > 0 and b99 != float("inf") else float("nan")
        row = f"{share:>8.1%} {_ms(p50):>8} {_ms(p99):>8} {per:>8.1f} KiB"
        print(f"  {n:>7}  {'tracker':<8} {row}  {ratio:>17.2f}")
        row = f"{b_share:>8.1%} {_ms(b50):>8} {_ms(b99):>8} {b_per:>8.1f} KiB"
        print(f"  {'':>7}  {'bare':<8} {row}")
        if share == 1.0:
            best = n
    verdict = "meets" if best >= GOAL_CLIENTS else "misses"
    print(
        f"  largest step with every tick within {ON_TIME:g} s: {best} clients "
        f"({verdict} the goal of {GOAL_CLIENTS:,})"
    )
    print("  command: " + shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv]))


def _ms(seconds: float) -> str:
    return "lost" if seconds == float("inf") else f"{seconds * 1000:.0f}ms"


def bare_factory():
    return bare_app(os.environ["REDIS_URL"], os.environ["TRACKER_STREAM_CHANNEL"])


if __name__ == "__main__":
    main()
