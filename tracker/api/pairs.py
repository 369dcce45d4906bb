"""API v1 pairs: public to read, staff to change. Exchanges are in `exchanges.py`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead, PublicReadStaffWrite
from tracker.common.clock import utc_now
from tracker.markets import selectors, services
from tracker.markets.models import Pair


class PairSerializer(serializers.ModelSerializer[Pair]):
    exchange = serializers.CharField(source="exchange.name", read_only=True)
    active = serializers.BooleanField(
        required=False,
        help_text="Whether the pair is polled. Write false to pause it, true to resume it "
        "(a delisted pair is then tried again).",
    )

    class Meta:
        model = Pair
        fields = [
            "id", "exchange", "symbol", "active", "status", "status_reason", "status_changed_at",
            "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "exchange", "symbol", "status", "status_reason", "status_changed_at",
            "created_at",
        ]  # fmt: skip


class PairListView(APIView):
    """The pairs the tracker knows, active or not."""

    permission_classes = [PublicRead]

    @extend_schema(responses=PairSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(PairSerializer(selectors.pair_list(), many=True).data)


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
