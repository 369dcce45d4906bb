"""API v1 views: parse the request, call a selector, render the answer."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import Metric

from .caching import Computed, cached_answer
from .history import INTERVALS, MAX_LIMIT, RANGES, HistoryQuery, cursor_encode, history_query_parse
from .renderers import CSVRenderer, FastJSONRenderer
from .serializers import (
    BucketSerializer,
    MetricDetailSerializer,
    MetricSerializer,
    RecordSerializer,
)

# X-Total-Count counts at most this many records; a longer window gets no header.
TOTAL_COUNT_CAP = 1_000_000
# Items per page in the browsable API (text/html); the Link header it shows leads on.
HTML_MAX_ITEMS = 500

RECORDS_PARAMETERS = [
    OpenApiParameter(
        "since",
        str,
        description="Window start: ISO 8601 or unix seconds, from 1970 to 9999-12-31. "
        "Default: until - 24h. Not together with range: both at once are a 400.",
    ),
    OpenApiParameter(
        "until",
        str,
        description="Window end: ISO 8601 or unix seconds, from 1970 to 9999-12-31. Default: now.",
    ),
    OpenApiParameter(
        "range",
        str,
        enum=list(RANGES),
        description="Window length ending at until (or now). Not together with since: both at "
        "once are a 400.",
    ),
    OpenApiParameter(
        "interval",
        str,
        enum=["raw", *INTERVALS, "auto"],
        description="raw records (default), or UTC-aligned buckets with open, high, low, close, "
        "average and count. auto: up to 1 day 5m, up to 90 days 1h, beyond 1d.",
    ),
    OpenApiParameter("limit", int, description="Items per page, 1 to 100000 (the default)."),
    OpenApiParameter("cursor", str, description="Opaque; taken from the Link header."),
    OpenApiParameter("format", str, enum=["json", "csv"], description="Or Accept: text/csv."),
]


def _metric_or_404(metric_id: int) -> Metric:
    metric = selectors.metric_get(metric_id=metric_id)
    if metric is None:
        raise NotFound(f"Metric {metric_id} does not exist.")
    return metric


def iso_utc(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ApiRootView(APIView):
    """The endpoints of API v1."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return reverse(name, request=request)

        return Response(
            OrderedDict(
                metrics=link("api:metric-list"),
                metric=link("api:metric-list") + "/{id}",
                records=link("api:metric-list") + "/{id}/records",
                exchanges=link("api:exchange-list"),
                pairs=link("api:pair-list"),
                pair=link("api:pair-list") + "/{id}",
                me=link("api:me"),
                token=link("api:token"),
                tokens=link("api:token-list"),
                login=link("rest_framework:login"),
                logout=link("rest_framework:logout"),
                schema=link("api:schema"),
                docs=link("api:docs"),
            )
        )


class MetricListView(APIView):
    """Every tracked metric: one per pair and kind (price, volume)."""

    permission_classes = [PublicRead]

    @extend_schema(responses=MetricSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(MetricSerializer(selectors.metric_list(), many=True).data)


class MetricDetailView(APIView):
    """One metric, with its rank by 24-hour standard deviation among metrics of its kind."""

    permission_classes = [PublicRead]

    @extend_schema(responses=MetricDetailSerializer)
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        metric = _metric_or_404(metric_id)
        now = utc_now()

        def compute() -> Computed:
            ranked = selectors.metric_rank(metric=metric, now=now)
            data = dict(MetricSerializer(metric).data)
            data.update(
                rank=ranked.rank,
                rank_of=ranked.rank_of,
                stddev=ranked.stddev,
                records_24h=ranked.count,
            )
            return data, {}

        return cached_answer(self, request, compute, now=now, sliding=True)


class MetricRecordsView(APIView):
    """The metric's records, oldest first: raw, or in buckets merged from minute rollups.

    Without parameters: the raw records of the last 24 hours. Long answers are split into pages;
    the next page's URL is in the `Link: <...>; rel="next"` header.
    """

    permission_classes = [PublicRead]
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=RECORDS_PARAMETERS,
        responses={
            (200, "application/json"): PolymorphicProxySerializer(
                component_name="RecordsOrBuckets",
                serializers=[RecordSerializer, BucketSerializer],
                resource_type_field_name=None,
                many=True,
            ),
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        metric = _metric_or_404(metric_id)
        now = utc_now()
        query = history_query_parse(request.query_params, metric_id=metric.id, now=now)
        if isinstance(request.accepted_renderer, BrowsableAPIRenderer):
            # An HTML page of 86,400 records is megabytes that no browser shows usefully.
            query = replace(query, limit=min(query.limit, HTML_MAX_ITEMS))
        return cached_answer(
            self,
            request,
            lambda: _records_answer(request, metric, query),
            now=now,
            sliding=query.sliding,
        )


def _records_answer(request: Request, metric: Metric, query: HistoryQuery) -> Computed:
    headers: dict[str, str] = {}
    body: list[dict[str, Any]]
    if query.interval == "raw":
        rows, next_after = selectors.records_page(
            metric_id=metric.id,
            since=query.since,
            until=query.until,
            after=query.after,
            limit=query.limit,
        )
        body = [{"timestamp": stamp, "value": value} for stamp, value in rows]
        total = selectors.records_count(
            metric_id=metric.id, since=query.since, until=query.until, cap=TOTAL_COUNT_CAP
        )
        if total is not None:  # only where cheap: past the cap the count is left out
            headers["X-Total-Count"] = str(total)
    else:
        buckets, next_after = selectors.buckets_page(
            metric=metric,
            start=query.after or query.since,
            until=query.until,
            width=query.width,
            limit=query.limit,
        )
        body = [_bucket_json(b) for b in buckets]
    if next_after is not None:
        headers["Link"] = f'<{_next_url(request, query, next_after)}>; rel="next"'
    return body, headers


def _bucket_json(bucket: selectors.Bucket) -> dict[str, Any]:
    return {
        "timestamp": iso_utc(bucket.start),
        "open": bucket.open,
        "high": bucket.high,
        "low": bucket.low,
        "close": bucket.close,
        "average": bucket.average,
        "count": bucket.count,
    }


def _next_url(request: Request, query: HistoryQuery, after: datetime) -> str:
    """The same request, pinned to the same window, continuing after `after`."""
    params = request.query_params.copy()
    params.pop("range", None)
    params["since"] = iso_utc(query.since)
    params["until"] = iso_utc(query.until)
    params["interval"] = query.interval
    params["cursor"] = cursor_encode(query, after)
    if "limit" in params or query.limit < MAX_LIMIT:
        params["limit"] = str(query.limit)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
