"""Numerically stable running statistics: Welford's update and Chan's merge.

Sums of squares cancel catastrophically for large values with small moves (prices near 1e5
moving by cents); tracking the mean and the sum of squared deviations (m2) does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Moments:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float], *, shift: float = 0.0) -> Moments:
        """Welford's single pass over `value - shift`; the mean is reported shifted too.

        With `shift` close to the values, the subtraction is exact and the statistics keep
        the precision of the deviations rather than that of the values.
        """
        count, mean, m2 = 0, 0.0, 0.0
        for raw in values:
            value = raw - shift
            count += 1
            delta = value - mean
            mean += delta / count
            m2 += delta * (value - mean)
        return cls(count, mean, m2)

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s pairwise combination: exact for any split of the data."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2)

    @property
    def pstdev(self) -> float:
        """Population standard deviation; 0 for fewer than two values."""
        return math.sqrt(max(self.m2, 0.0) / self.count) if self.count >= 2 else 0.0
