"""Staff pages: the tracked pairs (add, pause, resume, remove) and each exchange's health.

Reads go through `tracker.markets.selectors` and changes through the pair services the API's
pairs endpoints call (`tracker.ingest.pairs`, `tracker.markets.services`); a new pair is
checked against the exchange's markets and its last day filled from candles, as there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tracker.common.clock import utc_now
from tracker.ingest import backfill
from tracker.ingest import pairs as pair_services
from tracker.markets import selectors, services
from tracker.markets.models import Exchange, Pair
from tracker.markets.selectors import BIGINT_MAX

from .access import staff_only
from .forms import PairForm

logger = logging.getLogger(__name__)


def _pair(pair_id: int) -> Pair:
    if not 0 < pair_id <= BIGINT_MAX:
        raise Http404
    return get_object_or_404(selectors.pair_list(), id=pair_id)


def _markets(exchange: Exchange | None) -> tuple[list[str], str]:
    """The symbols the exchange lists, for the picker; or none, and why."""
    if exchange is None:
        return [], ""
    try:
        return sorted(pair_services.markets_listed(exchange=exchange, now=utc_now())), ""
    except pair_services.ExchangeError as exc:
        logger.warning("markets of %s for the pairs page: %s", exchange.name, exc)
        return (
            [],
            f"{exchange.name} cannot be reached for its markets ({exc}); type a symbol: it is "
            "checked when added.",
        )


def _add(request: HttpRequest, form: PairForm) -> Pair | None:
    """Add the form's pair; None, with the reason on the form, when it cannot be."""
    name, symbol = form.validated["exchange"], form.validated["symbol"]
    exchange = selectors.exchange_list().filter(name=name).first()
    if exchange is None:
        form.add_error(None, f"Unknown exchange {name!r}.")
        return None
    now = utc_now()
    try:
        pair = pair_services.pair_add(exchange=exchange, symbol=symbol, now=now)
    except pair_services.PairError as exc:
        form.add_error("symbol", str(exc))
        return None
    except pair_services.ExchangeError as exc:
        form.add_error("symbol", f"{name} cannot be asked for its markets: {exc}")
        return None
    backfill.pairs_backfill(pairs=[pair], hours=backfill.HOURS, now=now)
    return pair


@staff_only
@require_http_methods(["GET", "POST"])
def pairs(request: HttpRequest) -> HttpResponseBase:
    exchanges = list(selectors.exchange_list())
    by_name = {exchange.name: exchange for exchange in exchanges}
    form = PairForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid() and (pair := _add(request, form)) is not None:
        messages.success(
            request, f"{pair.symbol} on {pair.exchange.name} added; polled from the next tick."
        )
        return redirect(f"{request.path}?exchange={pair.exchange.name}")
    chosen_name = request.POST.get("exchange") or request.GET.get("exchange") or ""
    chosen = by_name.get(chosen_name) or (exchanges[0] if len(exchanges) == 1 else None)
    symbols, unreachable = _markets(chosen)
    context: dict[str, Any] = {
        "section": "pairs",
        "pairs": selectors.pair_list(),
        "exchanges": exchanges,
        "chosen": chosen,
        "symbols": symbols,
        "unreachable": unreachable,
        "form": form,
    }
    return render(
        request, "dashboard/staff/pairs.html", context, status=400 if form.is_bound else 200
    )


@staff_only
@require_POST
def pair_active(request: HttpRequest, pair_id: int) -> HttpResponseBase:
    """Pause (active=false) or resume (active=true) a pair's polling."""
    pair = _pair(pair_id)
    active = request.POST.get("active") == "true"
    services.pair_set_active(
        pair=pair, active=active, now=utc_now(), by=request.user.get_username()
    )
    verb = "resumed" if active else "paused"
    messages.success(request, f"{pair.symbol} on {pair.exchange.name} {verb}.")
    return redirect("dashboard:pairs")


@staff_only
@require_POST
def pair_remove(request: HttpRequest, pair_id: int) -> HttpResponseBase:
    """Stop tracking a pair; its history stays readable."""
    pair = _pair(pair_id)
    pair_services.pair_remove(pair=pair, now=utc_now(), by=request.user.get_username())
    messages.success(
        request, f"{pair.symbol} on {pair.exchange.name} removed; its history is kept."
    )
    return redirect("dashboard:pairs")


@staff_only
def exchanges(request: HttpRequest) -> HttpResponse:
    now = utc_now()
    rows = [(exchange, exchange.status_at(now)) for exchange in selectors.exchange_list()]
    return render(
        request,
        "dashboard/staff/exchanges.html",
        {"section": "exchanges", "rows": rows, "now": now},
    )
