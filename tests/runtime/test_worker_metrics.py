"""A real Celery worker with TRACKER_WORKER_METRICS_PORT serves, on that port, the counters its
pool processes incremented: each task here runs in a pool process of its own that exits after
it (`--max-tasks-per-child 1`), and the scrape still counts every one; behind the same bearer
token as the web server's /metrics.
"""

from __future__ import annotations

import os

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.process import free_port, manage
from tests.runtime.celery_stack import WORKER, Celery, redis_flushed
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # a Redis database of its own

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "worker-metrics-token-for-tests"
SENT = 4
SEND = f"""
import config.celery  # the tracker's Celery app, on REDIS_URL, as a worker's sends
from tracker.runtime.tasks import deliveries_send
for _ in range({SENT}):
    deliveries_send.delay()
"""


def successes(url: str, worker: Celery) -> float | None:
    """tracker_task_outcomes_total of tracker.deliveries_send's successes, as scraped; None
    while nothing answers on the port."""
    if not worker.alive():
        raise AssertionError(f"the worker exited:\n{worker.output}")
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    except httpx.TransportError:
        return None
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    labels = {"task": "tracker.deliveries_send", "outcome": "success"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "tracker_task_outcomes_total" and sample.labels == labels
    )


def test_a_worker_serves_the_counters_of_its_pool_processes(tmp_path, env):
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    counters = tmp_path / "prometheus-worker"
    counters.mkdir()
    with redis_flushed(REDIS_URL) as broker:
        env = {
            **env,
            "REDIS_URL": broker,
            "TRACKER_SCHEDULER": "celery",
            "TRACKER_WORKER_METRICS_PORT": str(port),
            "TRACKER_METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(counters),
        }
        with Celery(*WORKER, "--max-tasks-per-child", "1", env=env) as worker:
            wait_until(
                lambda: successes(url, worker) is not None,
                timeout=60,
                what=f"the worker's metrics on port {port}\n{worker.output}",
            )
            assert successes(url, worker) == 0
            refused = httpx.get(url, timeout=5)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            wrong = httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5)
            assert wrong.status_code == 401

            sent = manage("shell", "-c", SEND, env=env)
            assert sent.returncode == 0, sent.stderr
            wait_until(
                lambda: successes(url, worker) == SENT,
                timeout=60,
                what=f"{SENT} successes of tracker.deliveries_send scraped\n{worker.output}",
            )
    # One pool process per task, each gone after it: the sum outlives them.
    assert len(list(counters.glob("counter_*.db"))) >= SENT  # one file per process
