"""`make prod`, as the README's production section runs it: the web server, a Celery worker and
the beat on this machine, against PostgreSQL and Redis from the environment.

The stack comes up from an empty database (migrations, static files), polls the stand-in
exchange and answers /readyz 200. A worker that dies (SIGKILL) is started again and polling
goes on; SIGTERM to the stack, as Ctrl-C in its terminal, stops every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.process import free_port, tracker_env
from tests.runtime.celery_stack import Child, btc_prices, postgres_scratch, redis_flushed, rows
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # its own PostgreSQL database and Redis db

REDIS_URL = "redis://127.0.0.1:6379/10"


def session_processes(session: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in the session `session`."""
    listed = subprocess.run(
        ["ps", "-o", "pid=,stat=,args=", "-s", str(session)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = []
    for line in listed.splitlines():
        pid, state, command = line.strip().split(None, 2)
        if not state.startswith("Z"):  # a zombie has exited; its parent has not reaped it yet
            found.append((int(pid), command))
    return found


def stored_after(url: str, moment: datetime) -> int:
    query = "SELECT COUNT(*) FROM markets_record WHERE timestamp > %s"
    return int(rows(url, query, [moment])[0][0])


def test_make_prod_runs_the_stack_restarts_a_dead_worker_and_stops_whole(tmp_path, kraken):
    port = free_port()
    with postgres_scratch("tracker_prod") as database, redis_flushed(REDIS_URL) as broker:
        env = tracker_env(
            tmp_path,
            DATABASE_URL=database,
            REDIS_URL=broker,
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD,ETH/USD",
            TRACKER_CACHE_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
            PORT=str(port),
            WEB_CONCURRENCY="1",
            ENV_FILE=str(tmp_path / "env"),
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        )
        url = f"http://127.0.0.1:{port}"
        with Child(["make", "--no-print-directory", "prod"], env=env) as stack:
            assert stack.proc is not None
            session = stack.proc.pid

            def ready() -> bool:
                if not stack.alive():
                    raise AssertionError(f"make prod exited:\n{stack.output}")
                try:
                    return httpx.get(f"{url}/readyz", timeout=3).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, timeout=120, what=f"/readyz 200 from make prod\n{stack.output}")
            wait_until(lambda: len(btc_prices(database)) >= 2, timeout=30, what="two polls")
            assert httpx.get(f"{url}/api/v1/metrics", timeout=5).status_code == 200

            (worker, *_) = [
                pid for pid, command in session_processes(session) if "config worker" in command
            ]
            os.kill(worker, signal.SIGKILL)
            killed = datetime.now(UTC)
            wait_until(
                lambda: "celery worker exited" in stack.output,
                timeout=30,
                what=f"make prod noticing the worker's death\n{stack.output}",
            )
            wait_until(
                lambda: stored_after(database, killed) >= 2,
                timeout=60,
                what=f"polls stored by the worker started again\n{stack.output}",
            )

            os.killpg(session, signal.SIGTERM)
            stack.proc.wait(timeout=60)
            wait_until(
                lambda: not session_processes(session),
                timeout=30,
                what=f"every process of make prod gone after SIGTERM\n{stack.output}",
            )
