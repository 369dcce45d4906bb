"""Capped exponential backoff with jitter, measured in seconds. No Django: the exchange layer
uses it for its streams, the poller for its retries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """The pause after the n-th consecutive failure: base * 2**(n-1), capped, with jitter.

    Jitter draws the pause uniformly from [half, all] of that value, so many trackers that
    failed together do not come back together, and the pause never drops below half.
    """

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int) -> float:
        if failures < 1:
            return 0.0
        ceiling = min(self.cap, self.base * 2 ** min(failures - 1, 32))
        return ceiling * (0.5 + 0.5 * self.rng.random())
