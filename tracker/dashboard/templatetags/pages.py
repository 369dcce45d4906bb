"""Template filters for the alert and staff pages."""

from __future__ import annotations

from django import template

from tracker.alerts.delivery import window_text

register = template.Library()


@register.filter
def window(seconds: int | None) -> str:
    """`3600` -> `1h`, as the API writes a window."""
    return "" if seconds is None else window_text(seconds)
