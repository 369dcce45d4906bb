"""Template filters for numbers and sparklines (see tracker.dashboard.figures)."""

from __future__ import annotations

from collections.abc import Sequence

from django import template

from tracker.dashboard import figures

register = template.Library()


@register.filter
def value_text(value: float | None) -> str:
    return figures.value_text(value)


@register.filter
def change_text(change: float | None) -> str:
    return figures.change_text(change)


@register.filter
def change_class(change: float | None) -> str:
    return figures.change_class(change)


@register.filter
def sparkline_points(values: Sequence[float]) -> str:
    return figures.sparkline_points(values)


@register.filter
def values_csv(values: Sequence[float]) -> str:
    """A sparkline's values for a data attribute, to 7 significant digits: finer than its
    28 pixels draw."""
    return ",".join(f"{value:.7g}" for value in values)


@register.filter
def number(value: float | None) -> str:
    """A number for a data attribute, in full precision (repr round-trips a float); empty for
    None."""
    return "" if value is None else repr(value)
