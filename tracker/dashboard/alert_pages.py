"""A signed-in user's alerts: the history of alerts, the rules and the channels.

Each user sees their own only, read through `tracker.alerts.selectors` as the API reads them:
another user's rule, channel or alert is a 404 page, as if it did not exist. Changes go
through `tracker.alerts.services` after the API's own validation (see `forms`), by POST, and
answer with a redirect and a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.request import Request

from tracker.accounts.throttles import ChannelTestThrottle
from tracker.alerts import selectors, services
from tracker.alerts.models import AlertRule, Channel
from tracker.api.alerts import BAD_CURSOR, CURSOR_SALT
from tracker.api.history import ParamError, cursor_sign, cursor_unsign, moment_parse
from tracker.common.clock import utc_now
from tracker.markets.selectors import BIGINT_MAX, metric_list, metrics_page

from .access import signed_in
from .forms import ChannelForm, RuleForm

EVENTS_PAGE = 50
METRICS_MAX = 5000  # metrics offered to pick from; a rule over more watches a kind

M = TypeVar("M", bound=Model)


def _owner(request: HttpRequest) -> User:
    return cast(User, request.user)


def _owned(found: QuerySet[M], object_id: int) -> M:
    """One of the owner's objects from a selector's queryset, or a 404."""
    if not 0 < object_id <= BIGINT_MAX:  # no such id, and the driver would refuse the number
        raise Http404
    return get_object_or_404(found, id=object_id)


def _id_param(request: HttpRequest, name: str) -> int | None:
    text = request.GET.get(name, "")
    if text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= BIGINT_MAX:
        return int(text)
    return None


# --- the history --------------------------------------------------------------------------


def _cursor(text: str) -> tuple[Any, int] | None:
    """Where the page starts, from an `older` link; None (the first page) for anything else."""
    try:
        payload = cursor_unsign(text, salt=CURSOR_SALT, refused=BAD_CURSOR)
        if isinstance(payload, dict) and isinstance(payload.get("i"), int):
            return moment_parse("cursor", str(payload.get("t"))), payload["i"]
    except ParamError:
        pass
    return None


@signed_in
def alerts(request: HttpRequest) -> HttpResponse:
    owner = _owner(request)
    rule_id = _id_param(request, "rule")
    text = request.GET.get("cursor", "")
    before = _cursor(text) if text else None
    if text and before is None:
        messages.error(request, "That link to older alerts is not valid; here are the newest.")
    events, after = selectors.events_page(
        owner=owner,
        rule_id=rule_id,
        metric_id=None,
        since=None,
        until=None,
        before=before,
        limit=EVENTS_PAGE,
    )
    names = dict(selectors.channels_of(owner=owner).values_list("id", "name"))
    rows = [
        (
            event,
            [
                (names.get(d.channel_id, f"channel {d.channel_id}"), d)
                for d in event.deliveries.all()
            ],
        )
        for event in events
    ]
    older = None
    if after is not None:
        params = request.GET.copy()
        params["cursor"] = cursor_sign({"t": after[0].isoformat(), "i": after[1]}, salt=CURSOR_SALT)
        older = f"{request.path}?{params.urlencode()}"
    rule = selectors.rules_of(owner=owner).filter(id=rule_id).first() if rule_id else None
    context = {
        "section": "alerts",
        "rows": rows,
        "older": older,
        "paged": before is not None,
        "rule": rule,
    }
    return render(request, "dashboard/alerts/history.html", context)


# --- rules --------------------------------------------------------------------------------


def _rule_form(request: HttpRequest, rule: AlertRule | None) -> RuleForm:
    owner = _owner(request)
    rows, _ = metrics_page(limit=METRICS_MAX)
    grouped: dict[str, list[tuple[int, str]]] = {}
    for metric_id, symbol, kind, exchange, active in rows:
        label = f"{symbol} {kind}" + ("" if active else " (not polled)")
        grouped.setdefault(exchange, []).append((metric_id, label))
    channel_choices = [(c.id, f"{c.name} ({c.kind})") for c in selectors.channels_of(owner=owner)]
    data = request.POST if request.method == "POST" else None
    metric = _id_param(request, "metric") if rule is None and data is None else None
    initial = {"metrics": [str(metric)]} if metric else None  # "alert me on this metric"
    return RuleForm(
        data,
        owner=owner,
        instance=rule,
        metric_choices=sorted(grouped.items()),
        channel_choices=channel_choices,
        **({"initial": initial} if initial else {}),
    )


@signed_in
def rules(request: HttpRequest) -> HttpResponse:
    owner = _owner(request)
    found = list(selectors.rules_of(owner=owner))
    watched = {metric.id for rule in found for metric in rule.metrics.all()}
    labels = {
        metric.id: f"{metric.pair.symbol} {metric.kind} on {metric.pair.exchange.name}"
        for metric in metric_list().filter(id__in=watched)
    }
    context = {
        "section": "alerts",
        "rules": [
            (rule, [(m.id, labels.get(m.id, "")) for m in rule.metrics.all()]) for rule in found
        ],
        "has_channels": selectors.channels_of(owner=owner).exists(),
        "now": utc_now(),
    }
    return render(request, "dashboard/alerts/rules.html", context)


def _rule_save(request: HttpRequest, rule: AlertRule | None) -> HttpResponseBase:
    form = _rule_form(request, rule)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.validated)
        metrics, channels = fields.pop("metrics", None), fields.pop("channels", None)
        if rule is None:
            rule = services.rule_create(
                owner=_owner(request), fields=fields, metrics=metrics or (), channels=channels or ()
            )
            messages.success(request, f"Rule “{rule.name}” created.")
        else:
            rule = services.rule_update(
                rule=rule, fields=fields, metrics=metrics, channels=channels
            )
            messages.success(request, f"Rule “{rule.name}” saved.")
        return redirect("dashboard:alert-rules")
    context = {"section": "alerts", "form": form, "rule": rule}
    status = 400 if form.is_bound else 200
    return render(request, "dashboard/alerts/rule_form.html", context, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponseBase:
    return _rule_save(request, None)


@signed_in
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponseBase:
    return _rule_save(request, _owned(selectors.rules_of(owner=_owner(request)), rule_id))


def _delete_confirmed(
    request: HttpRequest,
    *,
    delete: Callable[[], object],
    what: str,
    done: str,
    back: str,
    after: str,
) -> HttpResponseBase:
    """A confirmation page on GET; on POST, `delete()`, the message `done` and the list."""
    if request.method == "POST":
        delete()
        messages.success(request, done)
        return redirect(after)
    context = {"section": "alerts", "what": what, "back": back}
    return render(request, "dashboard/alerts/confirm_delete.html", context)


@signed_in
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponseBase:
    rule = _owned(selectors.rules_of(owner=_owner(request)), rule_id)
    return _delete_confirmed(
        request,
        delete=lambda: services.rule_delete(rule=rule),
        what=f"the rule “{rule.name}” and its alert history",
        done=f"Rule “{rule.name}” deleted, with its alerts.",
        back=reverse("dashboard:alert-rule", args=[rule.id]),
        after="dashboard:alert-rules",
    )


# --- channels -----------------------------------------------------------------------------


@signed_in
def channels(request: HttpRequest) -> HttpResponse:
    found = selectors.channels_of(owner=_owner(request))
    return render(
        request, "dashboard/alerts/channels.html", {"section": "alerts", "channels": found}
    )


def _channel_save(request: HttpRequest, channel: Channel | None) -> HttpResponseBase:
    if request.method == "POST":
        form = ChannelForm(request.POST, instance=channel)
    else:
        form = ChannelForm(
            instance=channel, **({} if channel else {"initial": {"kind": "webhook"}})
        )
    if request.method == "POST" and form.is_valid():
        if channel is None:
            channel = services.channel_create(owner=_owner(request), fields=form.validated)
            messages.success(request, f"Channel “{channel.name}” created.")
        else:
            channel = services.channel_update(channel=channel, fields=form.validated)
            messages.success(request, f"Channel “{channel.name}” saved.")
        return redirect("dashboard:alert-channels")
    context = {"section": "alerts", "form": form, "channel": channel}
    status = 400 if form.is_bound else 200
    return render(request, "dashboard/alerts/channel_form.html", context, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def channel_new(request: HttpRequest) -> HttpResponseBase:
    return _channel_save(request, None)


@signed_in
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, channel_id: int) -> HttpResponseBase:
    return _channel_save(request, _owned(selectors.channels_of(owner=_owner(request)), channel_id))


@signed_in
@require_http_methods(["GET", "POST"])
def channel_delete(request: HttpRequest, channel_id: int) -> HttpResponseBase:
    channel = _owned(selectors.channels_of(owner=_owner(request)), channel_id)
    return _delete_confirmed(
        request,
        delete=lambda: services.channel_delete(channel=channel),
        what=f"the channel “{channel.name}”; rules that use it stop telling it",
        done=f"Channel “{channel.name}” deleted.",
        back=reverse("dashboard:alert-channel", args=[channel.id]),
        after="dashboard:alert-channels",
    )


@signed_in
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponseBase:
    """Send a test notification, counted against the same per-user limit as the API's."""
    channel = _owned(selectors.channels_of(owner=_owner(request)), channel_id)
    throttle = ChannelTestThrottle()
    # The throttle reads only the user from the request, which a page's request has too.
    if not throttle.allow_request(cast(Request, request), None):
        wait = throttle.wait()
        later = f" in {int(wait) + 1} s" if wait is not None else " later"
        messages.error(request, f"Too many test notifications; try again{later}.")
        return redirect("dashboard:alert-channels")
    outcome = services.channel_test(channel=channel, now=utc_now())
    if outcome.ok:
        answer = f": {outcome.response}" if outcome.response else "."
        messages.success(request, f"Test sent to “{channel.name}”{answer}")
    else:
        broken = (
            " The channel is marked broken until it changes or a test succeeds."
            if outcome.permanent
            else ""
        )
        messages.error(request, f"The test to “{channel.name}” failed: {outcome.error}.{broken}")
    return redirect("dashboard:alert-channels")
