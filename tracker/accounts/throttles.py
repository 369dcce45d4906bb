"""Request rates, and the limit on password guessing shared by every password check.

A client is told apart by its address: the TCP peer's, or, behind `TRACKER_NUM_PROXIES`
reverse proxies, the one the outermost proxy saw (each proxy appends its peer to
`X-Forwarded-For`, so entries to the left of those are whatever the client chose to send and
are never trusted). An IPv6 client counts as its /64 network, which it usually controls whole.

Password checks are limited by `password_attempt`, called before any password is verified:
`TRACKER_THROTTLE_TOKEN` attempts per period for each client address and as many for each
username. Counters are atomic increments in Django's cache (shared through Redis when
`REDIS_URL` is set), in fixed windows aligned to the period (a minute for `10/min`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from tracker.common.cache import cache_unavailable

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_address(request: HttpRequest | Request) -> str:
    """The client's address, trusting one `X-Forwarded-For` entry per configured proxy."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.TRACKER_NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",")]
    return hops[-min(proxies, len(hops))]


def client_ident(request: HttpRequest | Request) -> str:
    """What a client's requests are counted under: its address, or its /64 for IPv6."""
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SlidingCounterThrottle(SimpleRateThrottle):
    """A request rate kept in two counters per client: this window's and the previous one's.

    DRF's own throttle keeps a list of every request time of the last window in the cache and
    reads and writes it whole on each request: at 600 requests a minute, 600 floats pickled per
    request, more than the rest of a cached answer costs. Here a request costs one read of two
    counters and one increment. The window slides by weighing the previous window's count by
    the share of it still inside the sliding window (the usual sliding-window-counter
    estimate), rounded up: a burst that straddles two windows is never let through beyond
    the limit by a fraction of a request. Refused requests are not counted, as in DRF's.
    """

    num_requests: int  # set from the rate by SimpleRateThrottle.__init__
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window, into = divmod(now, self.duration)
        current_key, previous_key = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        counts = self.cache.get_many([current_key, previous_key])
        current, previous = counts.get(current_key, 0), counts.get(previous_key, 0)
        weight = 1 - into / self.duration
        if current + math.ceil(previous * weight) >= self.num_requests:
            # Free again when the previous window's share has shrunk to at most what this
            # window leaves, or at the next window when this one alone is full.
            self._wait = (
                min(
                    self.duration * (1 - (self.num_requests - current - 1) / previous) - into,
                    self.duration - into,
                )
                if previous and current < self.num_requests
                else self.duration - into
            )
            return False
        if not self.cache.add(current_key, 1, timeout=2 * self.duration + 1):
            try:
                self.cache.incr(current_key)
            except ValueError:  # expired between the two calls
                self.cache.set(current_key, 1, timeout=2 * self.duration + 1)
        return True

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class AnonThrottle(SlidingCounterThrottle, AnonRateThrottle):
    """`TRACKER_THROTTLE_ANON` per client address, for requests without credentials."""

    def get_ident(self, request: Request) -> str:
        return client_ident(request)


class UserThrottle(SlidingCounterThrottle, UserRateThrottle):
    """`TRACKER_THROTTLE_USER` per user. Anonymous requests are `AnonThrottle`'s alone."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ChannelTestThrottle(SlidingCounterThrottle, UserRateThrottle):
    """`TRACKER_THROTTLE_CHANNEL_TEST` test notifications per user: each is a request to a URL
    or a mail to an address the user chose, which must not make the tracker a relay."""

    scope = "channel_test"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


# --- password guessing ---------------------------------------------------------------------


class PasswordThrottled(Throttled):
    """Too many password attempts; `wait` is the number of seconds until the next window."""

    def __init__(self, *, wait: int) -> None:
        super().__init__(wait=wait)
        self.wait: int = wait


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        number, _, period = text.partition("/")
        return cls(count=int(number), seconds=PERIODS[period[:1]])


def password_rate() -> Rate:
    return Rate.parse(str(api_settings.DEFAULT_THROTTLE_RATES["token"]))


def _username_ident(username: str) -> str:
    # Hashed: cache keys stay short and printable whatever was typed, and nothing typed into
    # a username field (sometimes a password) is stored as it is.
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


def _count(key: str, *, timeout: int) -> int:
    """Add one to the counter at `key` and return it, atomically in the cache."""
    if cache.add(key, 1, timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout)
        return 1


UNCOUNTED_WAIT = 30  # seconds a client is asked to wait while attempts cannot be counted

# An address a user signed in from is theirs for this long: the per-username budget, which
# strangers could exhaust to lock the user out, does not apply to it (the per-address one does).
KNOWN_ADDRESS_SECONDS = 30 * 86400


def _known_key(address: str, username: str) -> str:
    return f"throttle_password_known_{_username_ident(username)}_{address}"


def password_address_known(*, address: str, username: str) -> None:
    """Remember that `username` signed in from `address`."""
    cache.set(_known_key(address, username), True, KNOWN_ADDRESS_SECONDS)


def password_attempt(*, address: str, username: str, now: datetime) -> None:
    """Count one password check; raise PasswordThrottled when its address or username is over.

    Both counters grow on every attempt, throttled or not, so one exhausted budget keeps the
    other honest; the username's is not counted from an address the user signed in from.
    """
    rate = password_rate()
    moment = now.timestamp()
    window = int(moment // rate.seconds)
    over = []
    counters = [("address", address)]
    if not cache.get(_known_key(address, username)):
        counters.append(("username", _username_ident(username)))
    for kind, ident in counters:
        key = f"throttle_password_{kind}_{ident}_{window}"
        if _count(key, timeout=rate.seconds) > rate.count:
            over.append(kind)
    if cache_unavailable():
        # Uncounted guesses would be unlimited: no password is checked until Redis is back.
        logger.warning(
            "password check from %s refused: the cache that counts attempts is unavailable",
            address,
        )
        raise PasswordThrottled(wait=UNCOUNTED_WAIT)
    if over:
        wait = math.ceil((window + 1) * rate.seconds - moment)
        logger.warning(
            "too many password attempts (over the %s limit) from %s", " and ".join(over), address
        )
        raise PasswordThrottled(wait=wait)
