"""A user's alert channels, alert rules and alert events (`/api/v1/channels`,
`/api/v1/alert-rules`, `/api/v1/alerts`). Signed-in users only, each seeing their own: another
user's object is a 404, as if it did not exist."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.accounts.throttles import ChannelTestThrottle
from tracker.alerts import selectors, services
from tracker.alerts.models import AlertRule, Channel
from tracker.common.clock import utc_now
from tracker.markets.selectors import BIGINT_MAX

from .alert_serializers import (
    AlertEventSerializer,
    AlertRuleSerializer,
    ChannelSerializer,
    ChannelTestSerializer,
)
from .history import (
    ParamError,
    cursor_sign,
    cursor_unsign,
    limit_parse,
    moment_parse,
    params_parse,
)
from .records import page_header

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR_SALT = "tracker.api.alerts-cursor"
BAD_CURSOR = "Not a cursor this server issued. Follow the Link header, or start again without one."


def _owner(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _channel(request: Request, channel_id: int) -> Channel:
    found = (
        selectors.channels_of(owner=_owner(request)).filter(id=channel_id).first()
        if channel_id <= BIGINT_MAX
        else None
    )
    if found is None:
        raise NotFound(f"Channel {channel_id} does not exist.")
    return found


def _rule(request: Request, rule_id: int) -> AlertRule:
    found = (
        selectors.rules_of(owner=_owner(request)).filter(id=rule_id).first()
        if rule_id <= BIGINT_MAX
        else None
    )
    if found is None:
        raise NotFound(f"Alert rule {rule_id} does not exist.")
    return found


class ChannelListView(APIView):
    """Your channels: where alerts are sent (Slack, a webhook, e-mail, PagerDuty)."""

    @extend_schema(operation_id="channels_list", responses=ChannelSerializer(many=True))
    def get(self, request: Request) -> Response:
        channels = selectors.channels_of(owner=_owner(request))
        return Response(ChannelSerializer(channels, many=True).data)

    @extend_schema(request=ChannelSerializer, responses={201: ChannelSerializer})
    def post(self, request: Request) -> Response:
        given = ChannelSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        channel = services.channel_create(owner=_owner(request), fields=given.validated_data)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailView(APIView):
    """One of your channels. Changing where it points clears its broken mark."""

    @extend_schema(responses=ChannelSerializer)
    def get(self, request: Request, channel_id: int) -> Response:
        return Response(ChannelSerializer(_channel(request, channel_id)).data)

    @extend_schema(request=ChannelSerializer, responses=ChannelSerializer)
    def patch(self, request: Request, channel_id: int) -> Response:
        channel = _channel(request, channel_id)
        given = ChannelSerializer(channel, data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        channel = services.channel_update(channel=channel, fields=given.validated_data)
        return Response(ChannelSerializer(channel).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, channel_id: int) -> Response:
        services.channel_delete(channel=_channel(request, channel_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestView(APIView):
    """Send a test notification to the channel now, and say what came of it. At most
    `TRACKER_THROTTLE_CHANNEL_TEST` (10 a minute) per user."""

    throttle_classes = [*APIView.throttle_classes, ChannelTestThrottle]

    @extend_schema(request=None, responses=ChannelTestSerializer)
    def post(self, request: Request, channel_id: int) -> Response:
        outcome = services.channel_test(channel=_channel(request, channel_id), now=utc_now())
        body = {
            "ok": outcome.ok,
            "response": outcome.response,
            "error": outcome.error,
            "permanent": outcome.permanent,
        }
        return Response(ChannelTestSerializer(body).data)


def _rule_fields(validated: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    fields = dict(validated)
    return fields, fields.pop("metrics", None), fields.pop("channels", None)


class AlertRuleListView(APIView):
    """Your alert rules: which metrics to watch, how far beyond their average, and whom to tell."""

    @extend_schema(operation_id="alert_rules_list", responses=AlertRuleSerializer(many=True))
    def get(self, request: Request) -> Response:
        rules = selectors.rules_of(owner=_owner(request))
        return Response(AlertRuleSerializer(rules, many=True).data)

    @extend_schema(request=AlertRuleSerializer, responses={201: AlertRuleSerializer})
    def post(self, request: Request) -> Response:
        owner = _owner(request)
        given = AlertRuleSerializer(data=request.data, context={"owner": owner})
        given.is_valid(raise_exception=True)
        fields, metrics, channels = _rule_fields(given.validated_data)
        rule = services.rule_create(
            owner=owner, fields=fields, metrics=metrics or (), channels=channels or ()
        )
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailView(APIView):
    """One of your alert rules."""

    @extend_schema(responses=AlertRuleSerializer)
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(AlertRuleSerializer(_rule(request, rule_id)).data)

    @extend_schema(request=AlertRuleSerializer, responses=AlertRuleSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        owner = _owner(request)
        rule = _rule(request, rule_id)
        given = AlertRuleSerializer(rule, data=request.data, partial=True, context={"owner": owner})
        given.is_valid(raise_exception=True)
        fields, metrics, channels = _rule_fields(given.validated_data)
        rule = services.rule_update(rule=rule, fields=fields, metrics=metrics, channels=channels)
        return Response(AlertRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        services.rule_delete(rule=_rule(request, rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _id(name: str) -> Any:
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) > 0):
            raise ParamError(name, f"Expected a {name} id.")
        return int(text)

    return parse


def _cursor(text: str) -> tuple[Any, int]:
    payload = cursor_unsign(text, salt=CURSOR_SALT, refused=BAD_CURSOR)
    if not (isinstance(payload, dict) and isinstance(payload.get("i"), int)):
        raise ParamError("cursor", BAD_CURSOR)
    try:
        return moment_parse("cursor", str(payload.get("t"))), payload["i"]
    except ParamError:
        raise ParamError("cursor", BAD_CURSOR) from None


class AlertListView(APIView):
    """Your alert events, newest first, each with its deliveries; paged by `X-Next-Cursor` and
    the `Link` header."""

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("rule", int, description="Only this rule's alerts."),
            OpenApiParameter("metric", int, description="Only alerts on this metric."),
            OpenApiParameter("since", str, description="Fired at or after (ISO 8601)."),
            OpenApiParameter("until", str, description="Fired before (ISO 8601)."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
            OpenApiParameter("cursor", str, description="The X-Next-Cursor of the page before."),
            page_header("X-Next-Cursor", "The cursor of the next page; absent on the last.", [200]),
            page_header("Link", 'The next page\'s URL, as `<url>; rel="next"`.', [200]),
        ],
        responses=AlertEventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        found = params_parse(
            request.query_params,
            {
                "rule": _id("rule"),
                "metric": _id("metric"),
                "since": lambda text: moment_parse("since", text),
                "until": lambda text: moment_parse("until", text),
                "limit": lambda text: limit_parse(text, maximum=MAX_LIMIT),
                "cursor": _cursor,
            },
        )
        if "since" in found and "until" in found and found["since"] >= found["until"]:
            raise ValidationError({"since": ["since must be before until."]})
        events, after = selectors.events_page(
            owner=_owner(request),
            rule_id=found.get("rule"),
            metric_id=found.get("metric"),
            since=found.get("since"),
            until=found.get("until"),
            before=found.get("cursor"),
            limit=found.get("limit", DEFAULT_LIMIT),
        )
        response = Response(AlertEventSerializer(events, many=True).data)
        if after is not None:
            cursor = cursor_sign({"t": after[0].isoformat(), "i": after[1]}, salt=CURSOR_SALT)
            params = request.query_params.copy()
            params["cursor"] = cursor
            url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
            response["X-Next-Cursor"] = cursor
            response["Link"] = f'<{url}>; rel="next"'
        return response
