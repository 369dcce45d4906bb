"""Request rates: anonymous callers per address, users per user, each limit on its own.

Raising `TRACKER_THROTTLE_ANON` must be enough to let anonymous callers make more requests:
the user rate does not apply to them. Clients are told apart by the TCP peer's address unless
`TRACKER_NUM_PROXIES` says how many proxies' `X-Forwarded-For` entries to trust.
"""

from __future__ import annotations

import pytest
from django.http import HttpRequest

from tests.api.conftest import client_for
from tracker.accounts.throttles import client_address, client_ident

pytestmark = pytest.mark.django_db
METRICS = "/api/v1/metrics"


def statuses(client, count: int, **extra: str) -> list[int]:
    return [client.get(METRICS, **extra).status_code for _ in range(count)]


def test_anonymous_callers_are_limited_per_address(api, throttle_rates):
    throttle_rates(anon="3/min", user="100/min")
    assert statuses(api, 4, REMOTE_ADDR="10.0.0.1") == [200, 200, 200, 429]
    assert statuses(api, 1, REMOTE_ADDR="10.0.0.2") == [200]


def test_anonymous_callers_are_not_capped_by_the_user_rate(api, throttle_rates):
    throttle_rates(anon="5/min", user="2/min")
    assert statuses(api, 6) == [200] * 5 + [429]


def test_users_are_limited_per_user_whatever_their_address(alice, bob, throttle_rates):
    throttle_rates(anon="1/min", user="2/min")
    as_alice = client_for(alice)
    assert statuses(as_alice, 2, REMOTE_ADDR="10.0.0.1") == [200, 200]
    assert statuses(as_alice, 1, REMOTE_ADDR="10.0.0.2") == [429]
    assert statuses(client_for(bob), 2, REMOTE_ADDR="10.0.0.1") == [200, 200]


def test_over_the_limit_is_a_429_with_retry_after(api, throttle_rates):
    throttle_rates(anon="1/min")
    api.get(METRICS)
    response = api.get(METRICS)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_forwarded_for_is_ignored_without_proxies(api, throttle_rates, settings):
    settings.TRACKER_NUM_PROXIES = 0
    throttle_rates(anon="2/min")
    codes = [api.get(METRICS, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_behind_one_proxy_the_address_it_saw_is_the_client(api, throttle_rates, settings):
    settings.TRACKER_NUM_PROXIES = 1
    throttle_rates(anon="2/min")
    # A client forging entries of its own does not escape: the proxy appends what it saw.
    forged = [
        api.get(METRICS, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7").status_code
        for i in range(3)
    ]
    assert forged == [200, 200, 429]
    assert api.get(METRICS, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


def request_from(remote: str, forwarded: str | None = None) -> HttpRequest:
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, None, "10.0.0.9"),
        (0, "1.2.3.4", "10.0.0.9"),
        (1, None, "10.0.0.9"),
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        (2, "6.6.6.6, 1.2.3.4, 10.0.0.8", "1.2.3.4"),
        (3, "1.2.3.4, 10.0.0.8", "1.2.3.4"),
    ],
)
def test_client_address(settings, proxies, forwarded, address):
    settings.TRACKER_NUM_PROXIES = proxies
    assert client_address(request_from("10.0.0.9", forwarded)) == address


def test_an_ipv6_client_is_its_64_bit_network(settings):
    settings.TRACKER_NUM_PROXIES = 0
    one = client_ident(request_from("2001:db8:1:2:aaaa::1"))
    assert one == client_ident(request_from("2001:db8:1:2:bbbb::2")) == "2001:db8:1:2::/64"
    assert client_ident(request_from("2001:db8:1:3::1")) != one
    assert client_ident(request_from("::ffff:192.0.2.1")) == "192.0.2.1"


def _anon_throttle(rate: str, clock: list[float]):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from tracker.accounts.throttles import AnonThrottle

    class Clocked(AnonThrottle):
        def timer(self) -> float:
            return clock[0]

    Clocked.THROTTLE_RATES = {"anon": rate}
    request = Request(APIRequestFactory().get(METRICS, REMOTE_ADDR="10.9.9.9"))
    return lambda: (throttle := Clocked()).allow_request(request, None) or throttle.wait()


def test_the_window_slides_over_the_previous_one():
    clock = [6000.0]  # the start of a minute
    ask = _anon_throttle("4/min", clock)
    assert [ask() for _ in range(5)][:4] == [True] * 4
    clock[0] += 30  # half a minute on: the 4 requests still count in full
    assert ask() == pytest.approx(30)  # refused until this window ends
    clock[0] += 45  # 15 s into the next minute: 3/4 of the previous 4 still inside
    assert ask() is True  # 3 + 1 = 4: the last one allowed
    refused = ask()
    assert refused is not True and 0 < refused <= 45
    clock[0] += 60  # a full window later only that one request weighs, at 3/4
    assert [ask() for _ in range(3)] == [True, True, True]


def test_a_refused_request_is_not_counted():
    clock = [12_000.0]
    ask = _anon_throttle("2/min", clock)
    assert [ask() is True for _ in range(10)] == [True, True] + [False] * 8
    clock[0] += 120  # two windows on: nothing weighs
    assert ask() is True


def test_a_burst_across_two_windows_gets_the_limit_and_no_more():
    clock = [6059.5]  # half a second before a minute ends
    ask = _anon_throttle("5/min", clock)
    assert [ask() is True for _ in range(3)] == [True] * 3
    clock[0] += 0.7  # 0.2 s into the next minute: the 3 still weigh 2.99, counted as 3
    assert [ask() is True for _ in range(3)] == [True, True, False]
