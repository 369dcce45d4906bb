"""The public pages: the overview of every metric and one metric's chart.

Views parse the query, call selectors and render; the pages' scripts then read the API
(`/api/v1/metrics/{id}/buckets`, `/api/v1/alerts`) and follow `/api/v1/stream`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.api.history import INTERVALS, RANGE_TABLE, auto_interval
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import MetricKind
from tracker.markets.overview import WINDOW, metrics_latest, overview_read

from .access import public_read

OVERVIEW_LIMIT = 1000  # rows on one page; the filters narrow a larger catalog
TEXT_MAX = 32  # as long as a pair symbol may be
# range -> (seconds, bucket seconds): the chart asks for interval=auto and draws what comes
RANGES = {
    name: (int(length.total_seconds()), INTERVALS[auto_interval(length)])
    for name, _, length in RANGE_TABLE
}


def _choice(request: HttpRequest, name: str, choices: list[str]) -> str | None:
    value = request.GET.get(name) or None
    return value if value in choices else None


@public_read
def overview(request: HttpRequest) -> HttpResponse:
    exchanges = list(selectors.exchange_list().values_list("name", flat=True))
    exchange = _choice(request, "exchange", exchanges)
    kind = _choice(request, "kind", list(MetricKind.values))
    text = request.GET.get("q", "").strip()[:TEXT_MAX]
    rows, total = overview_read(
        now=utc_now(), exchange=exchange, kind=kind, text=text or None, limit=OVERVIEW_LIMIT
    )
    context = {
        "rows": rows,
        "total": total,
        "limit": OVERVIEW_LIMIT,
        "exchanges": exchanges,
        "kinds": MetricKind.choices,
        "exchange": exchange or "",
        "kind": kind or "",
        "text": text,
        "refresh_seconds": settings.TRACKER_DASHBOARD_REFRESH,
    }
    template = "dashboard/overview_rows.html" if request.GET.get("part") == "rows" else None
    return render(request, template or "dashboard/overview.html", context)


@public_read
def metric(request: HttpRequest, metric_id: int) -> HttpResponse:
    found = selectors.metric_get(metric_id=metric_id)
    if found is None:
        raise Http404(f"No metric {metric_id}.")
    chosen = request.GET.get("range", "24h")
    last_at, last_value, _ = metrics_latest(ids=[metric_id], since=utc_now() - WINDOW).get(
        metric_id, (None, None, None)
    )
    context = {
        "last_at": last_at,
        "last_value": last_value,
        "metric": found,
        "rank": selectors.metric_rank(metric=found),
        "ranges": RANGES,
        "ranges_json": {name: {"seconds": s, "width": w} for name, (s, w) in RANGES.items()},
        "range": chosen if chosen in RANGES else "24h",
    }
    return render(request, "dashboard/metric.html", context)
