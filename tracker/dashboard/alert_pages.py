"""A signed-in user's alerts: rules, channels and the history of alerts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import signed_in


@signed_in
def alerts(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/error.html", {"title": "Alerts", "message": "Soon."})
