"""How the pages write numbers and draw sparklines; static/dashboard/figures.js does the same in
the browser for live updates, so a value looks alike whether rendered or streamed in."""

from __future__ import annotations

import math
from collections.abc import Sequence

SIGNIFICANT = 6  # digits shown of a value: 67,234.5 and 0.0123457
DECIMALS_MAX = 8
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
NOTHING = "\u2013"  # an en dash where there is no value
MINUS = "\u2212"  # typeset minus: as wide as the plus


def value_text(value: float | None) -> str:
    """A value with SIGNIFICANT digits (at most DECIMALS_MAX decimals), thousands separated."""
    if value is None or not math.isfinite(value):
        return NOTHING
    magnitude = math.floor(math.log10(abs(value))) + 1 if value else 1
    decimals = min(max(SIGNIFICANT - magnitude, 0), DECIMALS_MAX)
    return f"{value:,.{decimals}f}"


def change_text(change: float | None) -> str:
    """A move in percent with its sign: +1.25 % or -0.40 % (with a typeset minus)."""
    if change is None or not math.isfinite(change):
        return NOTHING
    sign = "+" if change > 0 else MINUS if change < 0 else ""
    return f"{sign}{abs(change):.2f} %"


def change_class(change: float | None) -> str:
    if change is None or change == 0:
        return "flat"
    return "up" if change > 0 else "down"


def sparkline_points(values: Sequence[float]) -> str:
    """The `points` of an SVG polyline drawing `values` left to right in the sparkline's box,
    the lowest at the bottom and the highest at the top (a flat line in the middle)."""
    if not values:
        return ""
    if len(values) == 1:  # one hour so far: a level line
        return f"0.0,{SPARK_HEIGHT / 2:.1f} {SPARK_WIDTH:.1f},{SPARK_HEIGHT / 2:.1f}"
    low, high = min(values), max(values)
    span = high - low
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    points = []
    for i, value in enumerate(values):
        y = SPARK_HEIGHT / 2 if span == 0 else (high - value) / span * (SPARK_HEIGHT - 2) + 1
        points.append(f"{i * step:.1f},{y:.1f}")
    return " ".join(points)
