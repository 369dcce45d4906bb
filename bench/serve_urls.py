"""The tracker's URLs plus `/bare`: a plain Django view answering a small JSON object."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as tracker_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"id": 1, "pair": "BTC/USD", "metric": "price", "exchange": "kraken"})


urlpatterns = [*tracker_urlpatterns, path("bare", bare)]
