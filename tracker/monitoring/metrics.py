"""`GET /metrics`, and the count of records ingested by exchange.

A scrape reads this process's counters (tracker.common.observability; every process's in
multiprocess mode) and what the database says (`collector.py`). Who may read it is
`metrics_authorized`, the check the Celery workers' exporter makes too.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from tracker.common.observability import (
    METRICS_CHALLENGE,
    METRICS_REFUSED,
    MULTIPROCESS,
    metrics_authorized,
    records_count,
)
from tracker.markets.events import RecordsIngested
from tracker.markets.models import Exchange

from .collector import DatabaseCollector

_exchange_names: dict[int, str] = {}


def _exchange_name(exchange_id: int) -> str:
    name = _exchange_names.get(exchange_id)
    if name is None:
        found = Exchange.objects.filter(id=exchange_id).values_list("name", flat=True).first()
        name = found or str(exchange_id)
        _exchange_names[exchange_id] = name
    return name


def records_ingested_count(event: RecordsIngested) -> None:
    """Subscriber of the "records ingested" event (tracker.markets.events)."""
    records_count(_exchange_name(event.exchange_id), event.count)


def metrics_registry() -> CollectorRegistry:
    """What a scrape reports: this process's counters (every process's, in multiprocess mode)
    and the database's values."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Process())
    registry.register(DatabaseCollector())
    return registry


class _Process:
    """The default registry's collectors: this process's counters, Python's and the OS's."""

    def collect(self) -> Any:
        return REGISTRY.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: Prometheus' text format; with TRACKER_METRICS_TOKEN set, only for
    `Authorization: Bearer <token>` (401 otherwise); without one, open unless
    TRACKER_PUBLIC_READ is off."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not metrics_authorized(request.headers.get("Authorization", "")):
        return HttpResponse(
            METRICS_REFUSED,
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": METRICS_CHALLENGE},
        )
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
