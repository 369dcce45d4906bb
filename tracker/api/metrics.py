"""The metrics list (`GET /api/v1/metrics`): filtered by exchange, pair and kind, paged by a
keyset cursor on the metric id, cached until a metric is added or removed or a pair's status
changes.

The answer is a plain JSON array of metrics, as it always was; pages travel in headers
(`X-Next-Cursor`, `Link`), with the records endpoint's parameters and cursor scheme.

Page size: 1,000 by default, at most 10,000. A page of 1,000 is about 80 KB and one indexed
read of a few milliseconds, and holds every metric of a tracker with up to 200 pairs (five
kinds each): a client that sends no parameters still gets the whole list of a small tracker
in one answer. 10,000 (about 0.8 MB, 0.1 to 0.3 s to compute uncached) bounds what one request
may cost; 50,000 metrics in one answer are what made the unpaged list slow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from tracker.accounts.permissions import PublicRead
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import Exchange, MetricKind, Pair

from .caching import CachedReadView, Computed, cached_answer
from .history import (
    ParamError,
    choice_parse,
    cursor_sign,
    cursor_unsign,
    limit_parse,
    params_parse,
    shown,
)
from .records import NOT_MODIFIED, page_header
from .schema import enum_component
from .serializers import MetricSerializer

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
CURSOR_SALT = "tracker.api.metrics-cursor"
BAD_CURSOR = (
    "Not a cursor this server issued for these filters. Follow the Link header, or start "
    "again without a cursor."
)
SYMBOL_MAX = Pair._meta.get_field("symbol").max_length or 32
EXCHANGE_MAX = Exchange._meta.get_field("name").max_length or 64


@dataclass(frozen=True)
class MetricQuery:
    exchange: str | None
    symbol: str | None
    kind: str | None
    limit: int
    after: int | None  # the last id of the page before

    def filters(self) -> list[str | None]:
        return [self.exchange, self.symbol, self.kind]


def _name(name: str, longest: int, example: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        # Printable only: PostgreSQL refuses NUL in a string, and no symbol has a control.
        if len(text) > longest or not text.isprintable():
            raise ParamError(
                name,
                f"Expected at most {longest} printable characters, such as {example}; "
                f"got {shown(text)}.",
            )
        return text

    return parse


def _cursor(text: str) -> dict[str, Any]:
    payload = cursor_unsign(text, salt=CURSOR_SALT, refused=BAD_CURSOR)
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("a"), int)
        and isinstance(payload.get("f"), list)
    ):
        raise ParamError("cursor", BAD_CURSOR)
    return payload


def metric_query_parse(params: Any) -> MetricQuery:
    """Filters, limit and cursor of a metrics list request, validated: a 400 names each bad one.

    A cursor continues the query it was issued for: with other filters it is refused.
    """
    found = params_parse(
        params,
        {
            "exchange": _name("exchange", EXCHANGE_MAX, "kraken"),
            "pair": _name("pair", SYMBOL_MAX, "BTC/USD"),
            "kind": lambda text: choice_parse("kind", text, MetricKind.values),
            "limit": lambda text: limit_parse(text, maximum=MAX_LIMIT),
            "cursor": _cursor,
        },
    )
    query = MetricQuery(
        exchange=found.get("exchange"),
        symbol=found.get("pair"),
        kind=found.get("kind"),
        limit=found.get("limit", DEFAULT_LIMIT),
        after=None,
    )
    cursor = found.get("cursor")
    if cursor is not None:
        if cursor["f"] != query.filters():
            raise ValidationError({"cursor": [BAD_CURSOR]})
        query = replace(query, after=cursor["a"])
    return query


def _answer(request: Request, query: MetricQuery) -> Computed:
    rows, next_after = selectors.metrics_page(
        exchange=query.exchange,
        symbol=query.symbol,
        kind=query.kind,
        after=query.after,
        limit=query.limit,
    )
    body = [
        {"id": i, "pair": symbol, "metric": kind, "exchange": exchange, "active": active}
        for i, symbol, kind, exchange, active in rows
    ]
    headers: dict[str, str] = {}
    if next_after is not None:
        cursor = cursor_sign({"f": query.filters(), "a": next_after}, salt=CURSOR_SALT)
        params = request.query_params.copy()
        params["cursor"] = cursor
        url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        headers["X-Next-Cursor"] = cursor
        headers["Link"] = f'<{url}>; rel="next"'
    return body, headers


PARAMETERS = [
    OpenApiParameter("exchange", str, description="Only the metrics of this exchange (kraken)."),
    OpenApiParameter("pair", str, description="Only the metrics of this pair symbol (BTC/USD)."),
    OpenApiParameter(
        "kind",
        enum_component("MetricKind", {kind: kind.upper() for kind in MetricKind.values}),
        description="Only metrics of this kind; another value is a 400 listing these.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        description="Metrics per page.",
    ),
    OpenApiParameter(
        "cursor",
        str,
        description="Where the next page starts: the X-Next-Cursor header. Only with the "
        "filters of the first page.",
    ),
    page_header("X-Next-Cursor", "The cursor of the next page; absent on the last.", [200]),
    page_header("Link", 'The next page\'s URL, as `<url>; rel="next"`.', [200]),
    page_header("ETag", "Send it back as If-None-Match to get a 304 while unchanged.", [200, 304]),
    page_header("Cache-Control", "How long the answer may be reused.", [200, 304]),
]


class MetricListView(CachedReadView):
    """The tracked metrics, one per pair and kind, by id; filtered by exchange, pair or kind.

    A plain array of metrics, in pages of `limit` (default 1,000, at most 10,000): while more
    follow, `X-Next-Cursor` and the `Link` header lead to the next page. Pages are stable while
    metrics are added. Cached, with an ETag, until a metric is added or removed or a pair's
    status changes; new records do not change it.
    """

    permission_classes = [PublicRead]

    def answer_version(self, **kwargs: Any) -> selectors.Version | None:
        return selectors.metric_list_version()

    @extend_schema(
        operation_id="metrics_list",
        parameters=PARAMETERS,
        responses={200: MetricSerializer(many=True), 304: NOT_MODIFIED},
    )
    def get(self, request: Request) -> HttpResponseBase:
        query = metric_query_parse(request.query_params)
        return cached_answer(
            self,
            request,
            lambda: _answer(request, query),
            version=cast(selectors.Version, self.version_read()),  # the list always exists
            now=utc_now(),
            sliding=False,
        )
