"""Staff pages: the tracked pairs and each exchange's health."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import staff_only


@staff_only
def pairs(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/error.html", {"title": "Pairs", "message": "Soon."})


@staff_only
def exchanges(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/error.html", {"title": "Exchanges", "message": "Soon."})
