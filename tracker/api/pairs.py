"""API v1 pairs: public to read, staff to change. Exchanges are in `exchanges.py`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicReadStaffWrite
from tracker.common.clock import utc_now
from tracker.ingest import backfill, pairs
from tracker.markets import selectors, services
from tracker.markets.models import Exchange, Metric, Pair, PairStatus


class PairMetricSerializer(serializers.ModelSerializer[Metric]):
    metric = serializers.CharField(source="kind", read_only=True, help_text="price, volume, ...")

    class Meta:
        model = Metric
        fields = ["id", "metric"]
        read_only_fields = fields


class PairSerializer(serializers.ModelSerializer[Pair]):
    exchange = serializers.CharField(source="exchange.name", read_only=True)
    metrics = PairMetricSerializer(
        many=True,
        read_only=True,
        help_text="The pair's metrics: their ids and kinds, as in /metrics.",
    )
    active = serializers.BooleanField(
        required=False,
        help_text="Whether the pair is polled. Write false to pause it, true to resume it "
        "(a delisted pair is then tried again).",
    )

    class Meta:
        model = Pair
        fields = [
            "id", "exchange", "symbol", "active", "status", "status_reason", "status_changed_at",
            "metrics", "backfilled_from", "backfilled_until", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "exchange", "symbol", "status", "status_reason", "status_changed_at",
            "metrics", "backfilled_from", "backfilled_until", "created_at",
        ]  # fmt: skip


class PairCreateSerializer(serializers.Serializer[None]):
    exchange = serializers.CharField(help_text="The exchange id, e.g. kraken.")
    symbol = serializers.CharField(max_length=32, help_text='The unified symbol, e.g. "ETH/EUR".')


class PairListQuery(serializers.Serializer[None]):
    exchange = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=PairStatus.choices, required=False)


class ExchangeUnavailableError(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The exchange cannot be reached."
    default_code = "exchange_unavailable"


class PairTrackedError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The pair is tracked already."
    default_code = "pair_tracked"


class PairListView(APIView):
    """The pairs the tracker knows, active or not. Staff add one with POST: it is checked
    against the exchange's markets, and its last 24 hours of price are filled from candles."""

    permission_classes = [PublicReadStaffWrite]

    @extend_schema(
        parameters=[
            OpenApiParameter("exchange", str, description="Only the pairs of this exchange."),
            OpenApiParameter(
                "status", str, enum=PairStatus.values, description="Only pairs in this status."
            ),
        ],
        responses={200: PairSerializer(many=True), 400: OpenApiResponse(description="Bad filter.")},
    )
    def get(self, request: Request) -> Response:
        query = PairListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        if request.query_params.get("status") == "":  # a form field would take it for absent
            raise ValidationError({"status": [f"One of {', '.join(PairStatus.values)}."]})
        found = selectors.pair_list()
        if "exchange" in query.validated_data:
            found = found.filter(exchange__name=query.validated_data["exchange"])
        if "status" in query.validated_data:
            found = found.filter(status=query.validated_data["status"])
        return Response(PairSerializer(found, many=True).data)

    @extend_schema(
        request=PairCreateSerializer,
        responses={
            201: PairSerializer,
            400: OpenApiResponse(description="Unknown exchange, or a symbol it does not list."),
            409: OpenApiResponse(description="The pair is tracked already."),
            503: OpenApiResponse(description="The exchange cannot be reached."),
        },
    )
    def post(self, request: Request) -> Response:
        body = PairCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name, symbol = body.validated_data["exchange"], body.validated_data["symbol"]
        exchange = Exchange.objects.filter(name=name).first()
        if exchange is None:
            known = ", ".join(selectors.exchange_list().values_list("name", flat=True))
            raise ValidationError({"exchange": [f"Unknown exchange {name!r}; known: {known}."]})
        now = utc_now()
        try:
            pair = pairs.pair_add(exchange=exchange, symbol=symbol, now=now)
        except pairs.PairUnknown as exc:
            raise ValidationError({"symbol": [str(exc)]}) from exc
        except pairs.PairTracked as exc:
            raise PairTrackedError(str(exc)) from exc
        except pairs.ExchangeError as exc:
            raise ExchangeUnavailableError(
                f"{name} cannot be asked for its markets: {exc}"
            ) from exc
        backfill.pairs_backfill(pairs=[pair], hours=backfill.HOURS, now=now)
        return Response(
            PairSerializer(selectors.pair_list().get(id=pair.id)).data,
            status=status.HTTP_201_CREATED,
        )


class PairDetailView(APIView):
    """One pair. Staff pause and resume its polling with `active` (also a delisted pair's)."""

    permission_classes = [PublicReadStaffWrite]

    def _pair(self, pair_id: int) -> Pair:
        pair = selectors.pair_list().filter(id=pair_id).first()
        if pair is None:
            raise NotFound(f"Pair {pair_id} does not exist.")
        return pair

    @extend_schema(responses=PairSerializer)
    def get(self, request: Request, pair_id: int) -> Response:
        return Response(PairSerializer(self._pair(pair_id)).data)

    @extend_schema(request=PairSerializer, responses=PairSerializer)
    def patch(self, request: Request, pair_id: int) -> Response:
        pair = self._pair(pair_id)
        update = PairSerializer(pair, data=request.data, partial=True)
        update.is_valid(raise_exception=True)
        if "active" in update.validated_data:
            pair = services.pair_set_active(
                pair=pair,
                active=update.validated_data["active"],
                now=utc_now(),
                by=request.user.get_username(),
            )
        return Response(PairSerializer(pair).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "purge",
                bool,
                description="Also delete the pair, its metrics, records and rollups.",
            )
        ],
        responses={204: None},
    )
    def delete(self, request: Request, pair_id: int) -> Response:
        pair = self._pair(pair_id)
        purge = request.query_params.get("purge", "false").lower() in ("true", "1", "yes")
        pairs.pair_remove(pair=pair, now=utc_now(), by=request.user.get_username(), purge=purge)
        return Response(status=status.HTTP_204_NO_CONTENT)
