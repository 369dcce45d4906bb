"""Fixtures shared by the whole suite: the stand-in exchanges, model factories, a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bitstamp import FakeBitstamp
from tests.fakes.kraken import FakeKraken
from tests.fakes.kraken_ws import FakeKrakenWS


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_alert_caches() -> None:
    """Evaluations keep rules and window sums in memory; each test's database is a new one."""
    from tracker.alerts.evaluate import caches_clear

    caches_clear()


@pytest.fixture(autouse=True)
def _fresh_markets() -> None:
    """Pair management keeps each exchange's markets list for a day; each test asks afresh."""
    from tracker.ingest.pairs import markets_forget

    markets_forget()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def throttle_rates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set request rates by scope (`anon`, `user`, `token`) for one test."""
    from rest_framework.throttling import SimpleRateThrottle

    def set_rates(**rates: str) -> None:
        merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}
        # DRF's throttles read their rates once, when they are imported.
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", merged)

    return set_rates


@pytest.fixture
def api() -> Any:
    """An anonymous API client."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def kraken() -> Iterator[FakeKraken]:
    """A stand-in Kraken on a free local port, speaking the real wire format."""
    with FakeKraken() as fake:
        yield fake


@pytest.fixture
def bitstamp() -> Iterator[FakeBitstamp]:
    """A stand-in Bitstamp on a free local port, speaking the real wire format."""
    with FakeBitstamp() as fake:
        yield fake


@pytest.fixture
def kraken_ws(kraken: FakeKraken) -> Iterator[FakeKrakenWS]:
    """A stand-in for Kraken's WebSocket v2 ticker channel, on the REST stand-in's prices."""
    with FakeKrakenWS(pairs=kraken.pairs, prices=kraken.prices, heartbeat=0.2) as fake:
        yield fake


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI a skipped test means a missing service or tool, which must fail the run.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if os.environ.get("CI") and skipped and exitstatus == pytest.ExitCode.OK:
        print(f"\nCI: {len(skipped)} test(s) skipped; every service must be up in CI.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Tests that never touch the suite's database: the same on SQLite and PostgreSQL, so CI runs
# them once (marked `once`), not once per database.
DATABASE_FREE = (
    "exchanges",
    "fakes",
    "test_makefile.py",
    "alerts/test_transports.py",
    "common/test_outbound.py",
    "live/test_ticks.py",
    "live/test_stream_events.py",
)
HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgresql` need the suite to run on PostgreSQL; elsewhere they are
    deselected (not skipped: CI runs the suite on both databases and fails on a skip)."""
    from django.conf import settings

    free = tuple(HERE / part for part in DATABASE_FREE)
    for item in items:
        if any(item.path == place or item.path.is_relative_to(place) for place in free):
            item.add_marker(pytest.mark.once)

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgresql")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]
