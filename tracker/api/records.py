"""A metric's history: raw records and buckets, each as JSON and as CSV, paged by cursor.

Raw records and buckets have different shapes, so they are different operations
(`/records`, `/buckets`): a generated client gets one type per operation. CSV is its own
operation too (`/records.csv`, `/buckets.csv`), because generators parse every answer of an
operation the same way. `?format=csv` and `Accept: text/csv` still work on the JSON paths, and
`/records?interval=1h` (the form before buckets had a path of their own) redirects to
`/buckets`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from django.http import HttpResponseBase, HttpResponsePermanentRedirect, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.reverse import reverse

from tracker.accounts.permissions import PublicRead
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import Metric

from .caching import CachedReadView, Computed, cached_answer
from .history import (
    BUCKET_INTERVALS,
    EARLIEST,
    INTERVAL_NAMES,
    LATEST,
    MAX_LIMIT,
    RANGE_NAMES,
    RAW_ONLY,
    HistoryQuery,
    cursor_encode,
    history_query_parse,
    iso_utc,
    window_slides,
)
from .renderers import CSVRenderer, FastJSONRenderer
from .schema import enum_component
from .serializers import BucketSerializer, RecordSerializer

# X-Total-Count counts at most this many records; a longer window gets no header.
TOTAL_COUNT_CAP = 1_000_000
# Items per page in the browsable API (text/html); the Link header it shows leads on.
HTML_MAX_ITEMS = 500

MOMENT = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
    "description": "ISO 8601 or unix seconds",
}
BOUNDS = f"from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
WINDOW_PARAMETERS = [
    OpenApiParameter(
        "since",
        MOMENT,
        description=f"Window start: ISO 8601 or unix seconds, {BOUNDS}. Default: until - 24h. "
        "Not together with range: both at once are a 400.",
    ),
    OpenApiParameter(
        "until",
        MOMENT,
        description=f"Window end: ISO 8601 or unix seconds, {BOUNDS}. Default: now.",
    ),
    OpenApiParameter(
        "range",
        enum_component("Range", RANGE_NAMES),
        description="Window length ending at until (or now). Not together with since: both "
        "at once are a 400.",
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": MAX_LIMIT},
        description="Items per page.",
    ),
    OpenApiParameter(
        "cursor", str, description="Where the next page starts: the X-Next-Cursor header."
    ),
]
INTERVAL_PARAMETER = OpenApiParameter(
    "interval",
    enum_component("Interval", INTERVAL_NAMES),
    description="Bucket width, aligned to UTC. auto (the default): 5m up to a day, 1h up to 90 "
    "days, 1d beyond.",
)


def page_header(name: str, description: str, codes: list[int]) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, location=OpenApiParameter.HEADER, response=codes, description=description
    )


def _page_headers(*, counted: bool) -> list[OpenApiParameter]:
    headers = [
        page_header("X-Next-Cursor", "The cursor of the next page; absent on the last.", [200]),
        page_header("Link", 'The next page\'s URL, as `<url>; rel="next"`.', [200]),
        page_header(
            "ETag", "Send it back as If-None-Match to get a 304 while unchanged.", [200, 304]
        ),
        page_header("Last-Modified", "When the answer last changed.", [200, 304]),
        page_header("Cache-Control", "How long the answer may be reused.", [200, 304]),
    ]
    if counted:
        headers.append(
            page_header("X-Total-Count", "Records in the whole window, up to a million.", [200])
        )
    return headers


NOT_MODIFIED = OpenApiResponse(description="Unchanged since the ETag or date sent.")


def metric_missing(metric_id: int) -> NotFound:
    return NotFound(f"Metric {metric_id} does not exist.")


def metric_or_404(metric_id: int) -> Metric:
    metric = selectors.metric_get(metric_id=metric_id)
    if metric is None:
        raise metric_missing(metric_id)
    return metric


class _HistoryView(CachedReadView):
    """A metric's history over a window, paged; subclasses say which history and format."""

    permission_classes = [PublicRead]
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    intervals: ClassVar[tuple[str, ...]] = RAW_ONLY

    def answer_version(self, **kwargs: Any) -> selectors.Version | None:
        return selectors.metric_version_get(metric_id=kwargs["metric_id"])

    def answer_slides(self, params: QueryDict) -> bool:
        return window_slides(params)

    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        # The version and the path are all the ETag and the cache key need: the parameters are
        # parsed, and the metric loaded, only to compute an answer anew.
        version = self.version_read(metric_id=metric_id)
        if version is None:
            raise metric_missing(metric_id)
        now = utc_now()

        def compute() -> Computed:
            metric = metric_or_404(metric_id)
            query = history_query_parse(
                request.query_params, metric_id=metric.id, now=now, intervals=self.intervals
            )
            if isinstance(request.accepted_renderer, BrowsableAPIRenderer):
                # An HTML page of 86,400 records is megabytes that no browser shows usefully.
                query = replace(query, limit=min(query.limit, HTML_MAX_ITEMS))
            return _history_answer(request, metric, query)

        return cached_answer(
            self,
            request,
            compute,
            version=version,
            now=now,
            sliding=self.answer_slides(request.query_params),
        )


class MetricRecordsView(_HistoryView):
    """The metric's raw records, oldest first; the last 24 hours by default.

    Long answers come in pages: `X-Next-Cursor` (and the `Link` header) lead to the next one.
    `interval` other than raw redirects (308) to the same query on `/buckets`.
    """

    @extend_schema(
        operation_id="metrics_records",
        parameters=[*WINDOW_PARAMETERS, *PAGE_PARAMETERS, *_page_headers(counted=True)],
        responses={200: RecordSerializer(many=True), 304: NOT_MODIFIED},
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        if request.query_params.get("interval") in BUCKET_INTERVALS:
            url = reverse("api:metric-buckets", kwargs={"metric_id": metric_id}, request=request)
            return HttpResponsePermanentRedirect(
                f"{url}?{request.META['QUERY_STRING']}", preserve_request=True
            )
        return super().get(request, metric_id)


class MetricBucketsView(_HistoryView):
    """The metric's values in UTC-aligned buckets (open, high, low, close, average, count),
    merged from minute rollups, oldest first; buckets without records are left out."""

    intervals = BUCKET_INTERVALS

    @extend_schema(
        operation_id="metrics_buckets",
        parameters=[
            *WINDOW_PARAMETERS,
            INTERVAL_PARAMETER,
            *PAGE_PARAMETERS,
            *_page_headers(counted=False),
        ],
        responses={200: BucketSerializer(many=True), 304: NOT_MODIFIED},
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        return super().get(request, metric_id)


CSV = {(200, "text/csv"): OpenApiTypes.STR, 304: NOT_MODIFIED}


class MetricRecordsCSVView(_HistoryView):
    """The metric's raw records as CSV (`timestamp,value`), paged like `/records`."""

    renderer_classes = [CSVRenderer]

    @extend_schema(
        operation_id="metrics_records_csv",
        parameters=[*WINDOW_PARAMETERS, *PAGE_PARAMETERS, *_page_headers(counted=True)],
        responses=CSV,
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        return super().get(request, metric_id)


class MetricBucketsCSVView(_HistoryView):
    """The metric's buckets as CSV, paged like `/buckets`."""

    renderer_classes = [CSVRenderer]
    intervals = BUCKET_INTERVALS

    @extend_schema(
        operation_id="metrics_buckets_csv",
        parameters=[
            *WINDOW_PARAMETERS,
            INTERVAL_PARAMETER,
            *PAGE_PARAMETERS,
            *_page_headers(counted=False),
        ],
        responses=CSV,
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        return super().get(request, metric_id)


def _history_answer(request: Request, metric: Metric, query: HistoryQuery) -> Computed:
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
        cursor = cursor_encode(query, next_after)
        headers["X-Next-Cursor"] = cursor
        headers["Link"] = f'<{_next_url(request, query, cursor)}>; rel="next"'
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


def _next_url(request: Request, query: HistoryQuery, cursor: str) -> str:
    """The same request, pinned to the same window, continuing at `cursor`."""
    params = request.query_params.copy()
    params.pop("range", None)
    params["since"] = iso_utc(query.since)
    params["until"] = iso_utc(query.until)
    if query.interval != "raw":
        params["interval"] = query.interval
    params["cursor"] = cursor
    if "limit" in params or query.limit < MAX_LIMIT:
        params["limit"] = str(query.limit)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
