"""Cached, conditional answers for the read endpoints that depend on stored data.

Each answer is keyed by the data version (bumped by every ingest), the time slot (one fetch
interval long, so sliding windows such as "the last 24 hours" move on even when no data
arrives), the full request path and the format. The same key gives the ETag, so a client that
sends If-None-Match gets a 304 without the server touching the records at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.common.clock import utc_now
from tracker.markets import selectors

Computed = tuple[Any, dict[str, str]]  # (data to render, extra headers)
KEEP_SECONDS = 600


def _not_modified(request: Request, etag: str, changed_at: datetime | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match == "*"
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and changed_at is not None and int(changed_at.timestamp()) <= since


def cached_answer(
    view: APIView, request: Request, compute: Callable[[], Computed]
) -> HttpResponseBase:
    """The rendered answer of `compute()`, from the cache when the data has not changed."""
    interval = settings.TRACKER_FETCH_INTERVAL
    version, changed_at = selectors.data_version()
    renderer = request.accepted_renderer
    slot = int(utc_now().timestamp() // interval)
    material = f"{version}|{slot}|{renderer.format}|{request.get_full_path()}"
    digest = hashlib.sha256(material.encode()).hexdigest()
    headers = {
        "ETag": f'"{digest[:32]}"',
        "Cache-Control": f"{'public' if settings.TRACKER_PUBLIC_READ else 'private'}, "
        f"max-age={int(interval)}",
        "Vary": "Accept, Authorization, Cookie",
    }
    if changed_at is not None:
        headers["Last-Modified"] = http_date(changed_at.timestamp())
    if _not_modified(request, headers["ETag"], changed_at):
        not_modified = HttpResponseNotModified()
        for name, value in headers.items():
            not_modified[name] = value
        return not_modified
    if isinstance(renderer, BrowsableAPIRenderer):  # an HTML page per user: not shared
        data, extra = compute()
        return Response(data, headers={**headers, **extra})

    key = f"tracker:answer:{digest}"
    hit = cache.get(key)
    if hit is None:
        data, extra = compute()
        body = renderer.render(data, renderer.media_type, view.get_renderer_context())
        hit = (body, renderer.media_type, extra)
        cache.set(key, hit, timeout=KEEP_SECONDS)
    body, media_type, extra = hit
    charset = "; charset=utf-8" if media_type == "text/csv" else ""
    response = HttpResponse(body, content_type=media_type + charset)
    for name, value in {**headers, **extra}.items():
        response[name] = value
    return response
