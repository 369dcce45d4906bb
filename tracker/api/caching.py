"""Cached, conditional answers for the read endpoints that depend on stored data.

An answer is keyed by everything it is made of: the version of the data it reads (a metric's
own for its history, that of its kind for a rank; each grows with every ingest of that data),
the scheme and host (absolute URLs in Link headers), the full request path and the format; for a
sliding window (one that ends now) also the time slot, one fetch interval long, so "the last
24 hours" moves on even when no data arrives. For HTML (the browsable API) the data is cached
and the page rendered for each request, since it names the user and embeds their CSRF token.
The same key gives the ETag, so a client that sends If-None-Match gets a 304
without the server touching the records at all. Last-Modified is when the data last changed,
or for a sliding window when its slot began, whichever is later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.markets import selectors

Computed = tuple[Any, dict[str, str]]  # (data to render, extra headers)
KEEP_SECONDS = 600


def _not_modified(request: Request, etag: str, modified: datetime | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match == "*"
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and modified is not None and int(modified.timestamp()) <= since


def _render(view: APIView, request: Request, data: Any, headers: dict[str, str]) -> str | bytes:
    """The body as the accepted renderer makes it; HTML pages show the headers too."""
    renderer = request.accepted_renderer
    if not isinstance(renderer, BrowsableAPIRenderer):
        return renderer.render(data, renderer.media_type, view.get_renderer_context())
    response = Response(data, headers=headers)
    response.accepted_renderer = renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = view.get_renderer_context()  # type: ignore[attr-defined]
    return response.rendered_content


def cached_answer(
    view: APIView,
    request: Request,
    compute: Callable[[], Computed],
    *,
    version: selectors.Version,
    now: datetime,
    sliding: bool,
) -> HttpResponseBase:
    """The rendered answer of `compute()`, from the cache when it cannot have changed.

    `version` is that of the data the answer reads; `now` is the time the answer is computed
    for; `sliding` says whether it depends on it.
    """
    interval = settings.TRACKER_FETCH_INTERVAL
    modified = version.changed_at
    renderer = request.accepted_renderer
    material: list[str] = [
        version.key,
        str(renderer.format),
        str(request.scheme),
        str(request.get_host()),
        request.get_full_path(),
    ]
    if sliding:
        slot = int(now.timestamp() // interval)
        began = datetime.fromtimestamp(slot * interval, UTC)
        modified = began if modified is None else max(modified, began)
        material.append(f"slot {slot}")
    digest = hashlib.sha256("|".join(material).encode()).hexdigest()
    headers = {
        "ETag": f'"{digest[:32]}"',
        "Cache-Control": f"{'public' if settings.TRACKER_PUBLIC_READ else 'private'}, "
        f"max-age={int(interval)}",
        "Vary": "Accept, Authorization, Cookie",
    }
    if modified is not None:
        headers["Last-Modified"] = http_date(modified.timestamp())
    if _not_modified(request, headers["ETag"], modified):
        not_modified = HttpResponseNotModified()
        for name, value in headers.items():
            not_modified[name] = value
        return not_modified

    key = f"tracker:answer:{digest}"
    if isinstance(renderer, BrowsableAPIRenderer):
        # The page names the user and embeds their CSRF token: the data is cached, the page
        # is rendered for each request.
        computed = cache.get(key)
        if computed is None:
            computed = compute()
            cache.set(key, computed, timeout=KEEP_SECONDS)
        data, extra = computed
        return HttpResponse(
            _render(view, request, data, {**headers, **extra}),
            content_type=f"{renderer.media_type}; charset={renderer.charset}",
            headers={**headers, **extra},
        )
    hit = cache.get(key)
    if hit is None:
        data, extra = compute()
        body = _render(view, request, data, {**headers, **extra})
        charset = f"; charset={renderer.charset}" if renderer.charset else ""
        hit = (body, renderer.media_type + charset, extra)
        cache.set(key, hit, timeout=KEEP_SECONDS)
    body, content_type, extra = hit
    response = HttpResponse(body, content_type=content_type)
    for name, value in {**headers, **extra}.items():
        response[name] = value
    return response
