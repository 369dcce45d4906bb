"""Fixtures of the process tests: a migrated tracker environment polling the stand-in exchange."""

from __future__ import annotations

import pytest

from tests.process import manage, tracker_env

PAIRS = "BTC/USD,ETH/USD"


@pytest.fixture
def env(tmp_path, kraken) -> dict[str, str]:
    """A child tracker's environment: its own migrated SQLite file, two pairs on the stand-in."""
    env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_PAIRS=PAIRS)
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env
