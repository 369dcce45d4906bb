"""The tracker's URLs plus `/bare`: a plain Django view answering a small JSON object,
`/bare/<size>`: one answering a JSON body of that many bytes, made once, and `/bare/page`: a
stored HTML page."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from config.urls import urlpatterns as tracker_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"id": 1, "pair": "BTC/USD", "metric": "price", "exchange": "kraken"})


@cache
def _body(size: int) -> bytes:
    return b"[" + b" " * max(size - 2, 0) + b"]"


def bare_sized(request: HttpRequest, size: int) -> HttpResponse:
    return HttpResponse(_body(min(size, 2**26)), content_type="application/json")


urlpatterns = [
    *tracker_urlpatterns,
    path("bare", bare),
    path("bare/<int:size>", bare_sized),
]


@cache
def _page() -> bytes:
    return Path(os.environ["BENCH_BARE_PAGE"]).read_bytes()


def bare_page(request: HttpRequest) -> HttpResponse:
    """A page stored as it was rendered (BENCH_BARE_PAGE): the floor of serving a page."""
    return HttpResponse(_page(), content_type="text/html; charset=utf-8")


urlpatterns.append(path("bare/page", bare_page))
