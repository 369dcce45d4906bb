"""A Celery worker's own Prometheus exporter: its counters over HTTP, for every pool process.

The counters of polls, deliveries and task outcomes are incremented in the worker's pool
processes, which no web server's /metrics reads unless it shares their directory on the same
host. With `TRACKER_WORKER_METRICS_PORT` set, the worker's main process serves them itself, once
it is ready (`worker_ready`), on that port of every interface: `GET /metrics` in Prometheus'
text format, behind the same `TRACKER_METRICS_TOKEN` check as the web server's /metrics.

The pool processes write their samples under `PROMETHEUS_MULTIPROC_DIR`, which must be set
before the worker starts (prometheus-client reads it on import) to a directory of this worker's
own, emptied before it starts (`make worker` does both; the compose file and the Helm chart
give each container its own). A pool process that exits is marked dead
(`worker_process_shutdown`), so its live gauges drop out while its counts stay in the sums.
Without the variable the exporter serves the main process's counters only, and says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery.signals import worker_process_shutdown, worker_ready
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app, multiprocess

from tracker.common.observability import (
    METRICS_CHALLENGE,
    METRICS_REFUSED,
    MULTIPROCESS,
    metrics_authorized,
)

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds up the worker's shutdown
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape on stderr would drown the worker's log


def worker_registry() -> CollectorRegistry:
    """Every pool process's counters (multiprocess mode), else this process's."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(registry)
    return registry


def exporter_app(registry: CollectorRegistry) -> WsgiApp:
    """The WSGI answer: the registry's samples to an authorized scrape, 401 to anyone else."""
    metrics = make_wsgi_app(registry)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not metrics_authorized(environ.get("HTTP_AUTHORIZATION", "")):
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", METRICS_CHALLENGE),
                ],
            )
            return [METRICS_REFUSED.encode()]
        return list(metrics(environ, start_response))

    return app


def exporter_start(*, port: int, host: str = "") -> WSGIServer:
    """Serve the worker's metrics on `port` from a daemon thread; `server.shutdown()` stops it."""
    server = make_server(host, port, exporter_app(worker_registry()), _Server, _Quiet)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


@worker_ready.connect
def _exporter_at_start(**_: Any) -> None:
    """In the worker's main process, once: its pool is up and its consumer connected."""
    port: int = settings.TRACKER_WORKER_METRICS_PORT
    if not port:
        return
    if not MULTIPROCESS:
        logger.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set: the metrics on port %d are the main process's "
            "only, not its pool processes'. Set it to an empty directory of this worker's own.",
            port,
        )
    try:
        exporter_start(port=port)
    except OSError as exc:  # the port taken (another worker on this host): work on regardless
        logger.error("cannot serve the worker's metrics on port %d: %s", port, exc)
        return
    logger.info("worker metrics on port %d (GET /metrics)", port)


@worker_process_shutdown.connect
def _pool_process_gone(pid: int | None = None, **_: Any) -> None:
    if MULTIPROCESS and pid:
        multiprocess.mark_process_dead(pid)
