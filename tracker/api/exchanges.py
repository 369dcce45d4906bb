"""API v1 exchanges: public to read, staff to add one or change how it is polled.

The table is what the runtime follows: a change here takes effect at the next tick. The URLs
are staff's alone to set: they say where the tracker connects (a mirror, a proxy, a stand-in).
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead, PublicReadStaffWrite
from tracker.common.clock import utc_now
from tracker.exchanges.registry import supported_exchanges
from tracker.exchanges.stream import stream_supported
from tracker.markets import selectors, services
from tracker.markets.models import (
    INTERVAL_MAX,
    INTERVAL_MIN,
    Exchange,
    ExchangeMode,
    ExchangeStatus,
)


def _stream_mode_check(name: str, mode: object) -> None:
    if mode == ExchangeMode.STREAM and not stream_supported(name):
        raise ValidationError(
            {"mode": [f"{name} has no ticker stream here; it can only be polled (mode=poll)."]}
        )


def _base_url_field(**options: Any) -> serializers.URLField:
    """An exchange's REST base URL: http or https (the model's own check), or empty."""
    validators = Exchange._meta.get_field("base_url").validators
    return serializers.URLField(
        required=False, allow_blank=True, max_length=200, validators=validators, **options
    )


def _ws_url_field(**options: Any) -> serializers.CharField:
    """An exchange's WebSocket URL: ws or wss (the model's own check), or empty."""
    validators = Exchange._meta.get_field("ws_url").validators
    return serializers.CharField(
        required=False, allow_blank=True, max_length=200, validators=validators, **options
    )


class ExchangeSerializer(serializers.ModelSerializer[Exchange]):
    base_url = _base_url_field(
        help_text="The REST base URL (http or https) used instead of the exchange's own; "
        "empty for the exchange's own.",
    )
    ws_url = _ws_url_field(
        help_text="The WebSocket URL (ws or wss) streamed from in mode=stream instead of the "
        "exchange's own; empty for the exchange's own.",
    )
    interval = serializers.FloatField(
        required=False,
        min_value=INTERVAL_MIN,
        max_value=INTERVAL_MAX,
        help_text="Seconds between two polls, from 1 to 86,400 (a day).",
    )
    status = serializers.SerializerMethodField(
        help_text="ok; failing (the last poll failed); stale (no success within three "
        "intervals, or never)."
    )

    class Meta:
        model = Exchange
        fields = [
            "id", "name", "enabled", "interval", "mode", "base_url", "ws_url", "last_success",
            "last_error", "last_error_at", "consecutive_failures", "status", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "name", "last_success", "last_error", "last_error_at", "consecutive_failures",
            "status", "created_at",
        ]  # fmt: skip

    def get_status(self, exchange: Exchange) -> ExchangeStatus:
        return ExchangeStatus(exchange.status_at(self.context.get("now") or utc_now()))

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if self.instance is not None:
            _stream_mode_check(self.instance.name, attrs.get("mode"))
        return attrs


class ExchangeCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=64, help_text="A ccxt exchange id, e.g. bitstamp.")
    interval = serializers.FloatField(
        required=False,
        min_value=INTERVAL_MIN,
        max_value=INTERVAL_MAX,
        help_text="Seconds between two polls, from 1 to 86,400; default TRACKER_FETCH_INTERVAL.",
    )
    base_url = _base_url_field(default="")
    ws_url = _ws_url_field(default="")
    mode = serializers.ChoiceField(choices=ExchangeMode.choices, default=ExchangeMode.POLL)

    def validate_name(self, name: str) -> str:
        known = supported_exchanges()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValidationError(f"ccxt does not know an exchange {name!r}.{hint}")
        return name

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        _stream_mode_check(str(attrs["name"]), attrs.get("mode"))
        return attrs


class ExchangeListView(APIView):
    """The exchanges the tracker knows, with how each is polled and how it is doing.

    Staff add one with POST; it is polled from the next sync of the runtime (a few seconds).
    """

    permission_classes = [PublicReadStaffWrite]

    @extend_schema(responses=ExchangeSerializer(many=True))
    def get(self, request: Request) -> Response:
        context = {"now": utc_now()}
        return Response(
            ExchangeSerializer(selectors.exchange_list(), many=True, context=context).data
        )

    @extend_schema(
        request=ExchangeCreateSerializer,
        responses={
            201: ExchangeSerializer,
            409: OpenApiResponse(description="The exchange exists already."),
        },
    )
    def post(self, request: Request) -> Response:
        given = ExchangeCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if selectors.exchange_list().filter(name=data["name"]).exists():
            return _conflict(data["name"])
        try:
            exchange = services.exchange_create(
                name=data["name"],
                interval=data.get("interval", settings.TRACKER_FETCH_INTERVAL),
                base_url=data["base_url"],
                ws_url=data["ws_url"],
                mode=data["mode"],
            )
        except IntegrityError:
            return _conflict(data["name"])
        return Response(ExchangeSerializer(exchange).data, status=status.HTTP_201_CREATED)


def _conflict(name: str) -> Response:
    return Response(
        {"detail": f"Exchange {name} exists already; PATCH /api/v1/exchanges/{name} changes it."},
        status=status.HTTP_409_CONFLICT,
    )


class ExchangeSupportedView(APIView):
    """Every exchange id ccxt offers: what POST /api/v1/exchanges accepts."""

    permission_classes = [PublicRead]

    @extend_schema(responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request: Request) -> Response:
        return Response(supported_exchanges())


class ExchangeDetailView(APIView):
    """One exchange. Staff change `enabled`, `interval`, `mode`, `base_url` and `ws_url`; the
    runtime follows at its next sync, without a restart."""

    permission_classes = [PublicReadStaffWrite]

    def _exchange(self, name: str) -> Exchange:
        exchange = selectors.exchange_list().filter(name=name).first()
        if exchange is None:
            raise NotFound(f"Exchange {name} does not exist.")
        return exchange

    @extend_schema(responses=ExchangeSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ExchangeSerializer(self._exchange(name)).data)

    @extend_schema(request=ExchangeSerializer, responses=ExchangeSerializer)
    def patch(self, request: Request, name: str) -> Response:
        exchange = self._exchange(name)
        update = ExchangeSerializer(exchange, data=request.data, partial=True)
        update.is_valid(raise_exception=True)
        data = update.validated_data
        exchange = services.exchange_update(
            exchange=exchange,
            enabled=data.get("enabled"),
            interval=data.get("interval"),
            mode=data.get("mode"),
            base_url=data.get("base_url"),
            ws_url=data.get("ws_url"),
        )
        return Response(ExchangeSerializer(exchange).data)
