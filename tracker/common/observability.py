"""Prometheus counters of what the tracker does, the request id, and who may read the metrics.

Counters and histograms are updated where things happen: requests (`RequestMiddleware`),
records ingested (a subscriber of the "records ingested" event, tracker.monitoring.metrics),
polls (the poller), alert evaluations and deliveries, and task outcomes (`task_outcome_count`,
for the Celery tasks). What is in the database (the tracked values, their 24-hour standard
deviation and rank, the age of each exchange's last good poll) is read at scrape time instead
(tracker.monitoring.collector), so every process reports the same truth. `/metrics` itself,
`/healthz` and `/readyz` are tracker.monitoring's: they read the markets, which nothing here
may import.

A Celery worker does not answer /metrics: with TRACKER_WORKER_METRICS_PORT set it serves its
counters on a port of its own (tracker.runtime.worker_metrics).

With several processes (`uvicorn --workers N`, `make server`) the counters live in files under
`PROMETHEUS_MULTIPROC_DIR`, which prometheus-client reads when it is imported: the variable
must be set in the environment before the process starts, and the directory emptied before a
deployment starts (the Makefile's `server` target does both). Unset, each process counts in
memory, which is right for one process (`make run`, `runtracker`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve
from prometheus_client import Counter, Histogram, disable_created_metrics

from tracker.common.logs import request_id_var

logger = logging.getLogger(__name__)

disable_created_metrics()  # the `_created` series double a scrape's size for nothing Grafana uses
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "tracker_http_requests",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "tracker_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by view.",
    ["view"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RECORDS = Counter(
    "tracker_records_ingested",
    "Records stored, by exchange.",
    ["exchange"],
)
POLLS = Counter(
    "tracker_polls",
    "Poll ticks of an exchange, by outcome: ok, exchange_error, database_error.",
    ["exchange", "outcome"],
)
EVALUATIONS = Counter(
    "tracker_alert_evaluations",
    "Alert evaluations after an ingest, by outcome: fired, resolved, quiet, failed.",
    ["outcome"],
)
DELIVERIES = Counter(
    "tracker_alert_deliveries",
    "Alert delivery attempts, by channel kind and outcome: sent, retry, failed.",
    ["channel", "outcome"],
)
TASKS = Counter(
    "tracker_task_outcomes",
    "Background task runs, by task name and outcome (success, failure, retry, ...).",
    ["task", "outcome"],
)

# --- the request id -----------------------------------------------------------------------------

REQUEST_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def request_id_accept(value: str | None) -> str:
    """The client's X-Request-ID if it is a sane token (1-64 of [A-Za-z0-9._-]), else a new one."""
    if value and len(value) <= 64 and REQUEST_ID_CHARS.issuperset(value):
        return value
    return uuid.uuid4().hex


# --- requests -----------------------------------------------------------------------------------

_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"  # a 404 of no route, or answered before the URL was resolved
    return match.route or match.view_name or "<unnamed>"


PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


@functools.cache
def _probe(path: str) -> Callable[[HttpRequest], HttpResponseBase] | None:
    """The view config/urls.py routes a probe's path to (tracker.monitoring's views)."""
    try:
        return resolve(path).func
    except Resolver404:
        return None


class RequestMiddleware:
    """First in the chain: a request id for the logs and the X-Request-ID header, and the
    request counted and timed by view (its route, so /metrics/1 and /metrics/2 are one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request_id_accept(request.headers.get("X-Request-ID"))
        token = request_id_var.set(request_id)
        probe = _probe(request.path) if request.path in PROBES else None
        try:
            # The probes and the scrape answer before the host check (CommonMiddleware):
            # Kubernetes and Prometheus call them on the pod's address, not a public name.
            response = probe(request) if probe is not None else self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        elapsed = time.perf_counter() - started
        view = request.path if probe is not None else _view_name(request)
        key = (view, request.method or "", response.status_code)
        children = _children.get(key)
        if children is None:
            children = (
                REQUESTS.labels(key[0], key[1], str(key[2])),
                LATENCY.labels(key[0]),
            )
            if len(_children) < 10_000:  # routes x methods x statuses: bounded, but be safe
                _children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        return response


# --- counters for the rest of the tracker ---------------------------------------------------------


def task_outcome_count(name: str, outcome: str) -> None:
    """Count one run of the background task `name` ending in `outcome` (e.g. "success",
    "failure", "retry"). Cheap, never raises: call it from a task or a Celery signal."""
    try:
        TASKS.labels(name, outcome).inc()
    except Exception:  # counting must never break the work it counts
        logger.exception("could not count task %s (%s)", name, outcome)


def poll_count(exchange: str, outcome: str) -> None:
    POLLS.labels(exchange, outcome).inc()


def alert_evaluation_count(outcome: str) -> None:
    EVALUATIONS.labels(outcome).inc()


def delivery_count(channel: str, outcome: str) -> None:
    DELIVERIES.labels(channel, outcome).inc()


def records_count(exchange: str, count: int) -> None:
    RECORDS.labels(exchange).inc(count)


# --- who may read the metrics -------------------------------------------------------------------


def metrics_authorized(authorization: str) -> bool:
    """Whether a scrape sending this Authorization header may read the metrics: /metrics and
    the Celery workers' exporter (tracker.runtime.worker_metrics) ask the same."""
    token: str = settings.TRACKER_METRICS_TOKEN
    if not token:
        # No token: open, as the API's reads are; closed when they are (the tracked values
        # are among the metrics).
        return bool(settings.TRACKER_PUBLIC_READ)
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


METRICS_REFUSED = (
    "A bearer token is required: set TRACKER_METRICS_TOKEN and send it as "
    "`Authorization: Bearer <token>`.\n"
)
METRICS_CHALLENGE = 'Bearer realm="metrics"'
