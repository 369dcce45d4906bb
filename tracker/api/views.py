"""API v1 views: parse the request, call a selector, render the answer.

The metrics list has a module of its own, `metrics.py`, and so has a metric's history
(records, buckets, CSV), `records.py`.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import Metric

from .caching import CachedReadView, Computed, cached_answer
from .records import NOT_MODIFIED, metric_missing, metric_or_404, page_header
from .serializers import MetricDetailSerializer, MetricSerializer


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
                buckets=link("api:metric-list") + "/{id}/buckets",
                exchanges=link("api:exchange-list"),
                pairs=link("api:pair-list"),
                pair=link("api:pair-list") + "/{id}",
                channels=link("api:channel-list"),
                alert_rules=link("api:alert-rule-list"),
                alerts=link("api:alert-list"),
                stream=link("api:stream"),
                me=link("api:me"),
                token=link("api:token"),
                tokens=link("api:token-list"),
                login=link("rest_framework:login"),
                logout=link("rest_framework:logout"),
                schema=link("api:schema"),
                docs=link("api:docs"),
            )
        )


class MetricDetailView(CachedReadView):
    """One metric, with its rank by 24-hour standard deviation among metrics of its kind, as of
    the last rank refresh (`ranked_at`)."""

    permission_classes = [PublicRead]

    def answer_version(self, **kwargs: Any) -> selectors.Version | None:
        return selectors.metric_rank_version_get(metric_id=kwargs["metric_id"])

    @extend_schema(
        parameters=[
            page_header(
                "ETag", "Send it back as If-None-Match to get a 304 while unchanged.", [200]
            ),
            page_header("Last-Modified", "When the answer last changed.", [200]),
        ],
        responses={200: MetricDetailSerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, metric_id: int) -> HttpResponseBase:
        version = self.version_read(metric_id=metric_id)
        if version is None:
            raise metric_missing(metric_id)

        def compute() -> Computed:
            metric = metric_or_404(metric_id)
            return _detail_data(metric, selectors.metric_rank(metric=metric)), {}

        return cached_answer(self, request, compute, version=version, now=utc_now(), sliding=False)


def _detail_data(metric: Metric, ranked: selectors.RankSnapshot) -> dict[str, Any]:
    data = dict(MetricSerializer(metric).data)
    data.update(
        rank=ranked.rank,
        rank_of=ranked.rank_of,
        stddev=ranked.stddev,
        records_24h=ranked.count,
        ranked_at=(
            None
            if ranked.ranked_at is None
            else ranked.ranked_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        ),
    )
    return data
