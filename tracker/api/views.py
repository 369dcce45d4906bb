"""API v1 views: parse the request, call a selector, render the answer."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead
from tracker.common.clock import utc_now
from tracker.markets import selectors
from tracker.markets.models import Metric

from .serializers import MetricDetailSerializer, MetricSerializer, RecordSerializer


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
    def get(self, request: Request, metric_id: int) -> Response:
        metric = _metric_or_404(metric_id)
        ranked = selectors.metric_rank(metric=metric, now=utc_now())
        data = dict(MetricSerializer(metric).data)
        data.update(
            rank=ranked.rank, rank_of=ranked.rank_of, stddev=ranked.stddev, records_24h=ranked.count
        )
        return Response(data)


class MetricRecordsView(APIView):
    """The metric's records of the last 24 hours, oldest first."""

    permission_classes = [PublicRead]

    @extend_schema(responses=RecordSerializer(many=True))
    def get(self, request: Request, metric_id: int) -> Response:
        metric = _metric_or_404(metric_id)
        rows = selectors.records_window(metric_id=metric.id, now=utc_now())
        return Response([{"timestamp": iso_utc(ts), "value": value} for ts, value in rows])
