"""The pause after repeated failures grows exponentially, is capped, and is jittered."""

import random

from tracker.ingest.backoff import Backoff


def test_pause_doubles_per_failure_within_jitter_bounds():
    backoff = Backoff(base=10, cap=1000, rng=random.Random(1))
    for failures, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        pause = backoff.delay(failures)
        assert ceiling / 2 <= pause <= ceiling


def test_pause_is_capped_even_after_many_failures():
    backoff = Backoff(base=1, cap=60, rng=random.Random(2))
    assert all(30 <= backoff.delay(n) <= 60 for n in range(7, 500))


def test_jitter_spreads_trackers_that_failed_together():
    pauses = {Backoff(base=10, cap=100, rng=random.Random(seed)).delay(3) for seed in range(20)}
    assert len(pauses) == 20


def test_no_failure_no_pause():
    assert Backoff(base=5, cap=10).delay(0) == 0
