"""`manage.py pairs add|remove|list` and `manage.py backfill` against the stand-ins."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import records_add
from tracker.common.clock import utc_now
from tracker.markets.models import Pair, PairStatus, Record
from tracker.markets.services import exchange_get_or_create

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def exchanges(kraken, bitstamp):
    exchange_get_or_create(name="kraken", base_url=kraken.url)
    exchange_get_or_create(name="bitstamp", base_url=bitstamp.url)


def test_add_tracks_and_backfills_pairs_on_two_exchanges(exchanges):
    out = run("pairs", "add", "kraken", "BTC/USD", "ETH/USD", "--hours", "2")
    run("pairs", "add", "bitstamp", "BTC/USD", "--hours", "2")

    assert "BTC/USD on kraken: added" in out and "ETH/USD: backfilled" in out
    assert set(Pair.objects.values_list("exchange__name", "symbol")) == {
        ("kraken", "BTC/USD"), ("kraken", "ETH/USD"), ("bitstamp", "BTC/USD"),
    }  # fmt: skip
    for pair in Pair.objects.all():
        assert Record.objects.filter(metric__pair=pair).count() >= 110
        assert pair.backfilled_from is not None


def test_add_names_close_matches_of_an_unlisted_symbol(exchanges):
    with pytest.raises(CommandError, match=r"does not list ETH/EUR\. Close matches: ETH/USD"):
        run("pairs", "add", "kraken", "ETH/EUR")
    with pytest.raises(CommandError, match="unknown exchange 'nowhere'"):
        run("pairs", "add", "nowhere", "BTC/USD")


def test_remove_keeps_history_and_purge_deletes_it(exchanges):
    run("pairs", "add", "kraken", "BTC/USD", "ETH/USD", "--hours", "0")
    for pair in Pair.objects.all():
        records_add(pair.metrics.get(kind="price"), [1.0, 2.0], end=utc_now())

    run("pairs", "remove", "kraken", "BTC/USD")
    run("pairs", "remove", "kraken", "ETH/USD", "--purge")

    btc = Pair.objects.get()
    assert (btc.symbol, btc.status, btc.status_reason) == (
        "BTC/USD",
        PairStatus.PAUSED,
        "removed by manage.py",
    )
    assert Record.objects.count() == 2
    with pytest.raises(CommandError, match="no tracked pair DOGE/USD"):
        run("pairs", "remove", "kraken", "DOGE/USD")


def test_list_filters_by_exchange_and_status(exchanges):
    run("pairs", "add", "kraken", "BTC/USD", "ETH/USD", "--hours", "0")
    run("pairs", "add", "bitstamp", "BTC/USD", "--hours", "0")
    run("pairs", "remove", "kraken", "ETH/USD")

    assert run("pairs", "list", "--exchange", "bitstamp") == "bitstamp\tBTC/USD\tactive\n"
    assert run("pairs", "list", "--status", "paused") == (
        "kraken\tETH/USD\tpaused (removed by manage.py)\n"
    )
    assert len(run("pairs", "list").splitlines()) == 3


def test_backfill_command_fills_the_chosen_pairs(exchanges):
    run("pairs", "add", "kraken", "BTC/USD", "ETH/USD", "--hours", "0")
    run("pairs", "add", "bitstamp", "BTC/USD", "--hours", "0")

    out = run("backfill", "--hours", "1", "--exchange", "kraken", "BTC/USD")

    assert out.startswith("kraken BTC/USD: ") and len(out.splitlines()) == 1
    filled = Pair.objects.exclude(backfilled_from=None)
    assert list(filled.values_list("exchange__name", "symbol")) == [("kraken", "BTC/USD")]
    with pytest.raises(CommandError, match="no active pair"):
        run("backfill", "NOPE/USD")


def test_backfill_command_reports_a_failing_exchange(exchanges, bitstamp):
    run("pairs", "add", "bitstamp", "BTC/USD", "--hours", "0")
    bitstamp.misbehave("http_error", method="ohlc", status=503)

    with pytest.raises(CommandError, match="1 backfill"):
        run("backfill", "--hours", "1")
