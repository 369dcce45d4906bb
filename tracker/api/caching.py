"""Cached, conditional answers for the read endpoints that depend on stored data.

An answer is keyed by everything it is made of: the version of the data it reads (a metric's
own for its history, that and its rank snapshot for its detail, the list's for the list),
the scheme and host (absolute URLs in Link headers), the full request path and the format; for a
sliding window (one that ends now) also the time slot, one fetch interval long, so "the last
24 hours" moves on even when no data arrives. For HTML (the browsable API) the data is cached
and the page rendered for each request, since it names the user and embeds their CSRF token.
The same key gives the ETag, so a client that sends If-None-Match gets a 304
without the server touching the records at all. Last-Modified is when the data last changed,
or for a sliding window when its slot began, whichever is later. `CachedReadView` answers
such requests before DRF's request handling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    QueryDict,
)
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from tracker.common.clock import utc_now
from tracker.markets import selectors

Computed = tuple[Any, dict[str, str]]  # (data to render, extra headers)
KEEP_SECONDS = 600


def _not_modified(request: HttpRequest, etag: str, modified: datetime | None) -> bool:
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        return etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match == "*"
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and modified is not None and int(modified.timestamp()) <= since


@dataclass(frozen=True, slots=True)
class Validators:
    """Where an answer is cached, and the headers that say when it changes."""

    key: str
    etag: str
    modified: datetime | None
    headers: dict[str, str]


def _validators(
    request: HttpRequest, *, version: selectors.Version, format: str, now: datetime, sliding: bool
) -> Validators:
    interval = settings.TRACKER_FETCH_INTERVAL
    modified = version.changed_at
    material = [
        version.key,
        format,
        str(request.scheme),
        request.get_host(),
        request.get_full_path(),
    ]
    if sliding:
        slot = int(now.timestamp() // interval)
        began = datetime.fromtimestamp(slot * interval, UTC)
        modified = began if modified is None else max(modified, began)
        material.append(f"slot {slot}")
    digest = hashlib.sha256("|".join(material).encode()).hexdigest()
    etag = f'"{digest[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'public' if settings.TRACKER_PUBLIC_READ else 'private'}, "
        f"max-age={int(interval)}",
        "Vary": "Accept, Authorization, Cookie",
    }
    if modified is not None:
        headers["Last-Modified"] = http_date(modified.timestamp())
    return Validators(key=f"tracker:answer:{digest}", etag=etag, modified=modified, headers=headers)


def _with_headers(response: HttpResponseBase, headers: dict[str, str]) -> HttpResponseBase:
    for name, value in headers.items():
        response[name] = value
    return response


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
    renderer = request.accepted_renderer
    valid = _validators(request, version=version, format=str(renderer.format), now=now,
                        sliding=sliding)  # fmt: skip
    if _not_modified(request, valid.etag, valid.modified):
        return _with_headers(HttpResponseNotModified(), valid.headers)

    if isinstance(renderer, BrowsableAPIRenderer):
        # The page names the user and embeds their CSRF token: the data is cached, the page
        # is rendered for each request.
        computed = cache.get(valid.key)
        if computed is None:
            computed = compute()
            cache.set(valid.key, computed, timeout=KEEP_SECONDS)
        data, extra = computed
        return HttpResponse(
            _render(view, request, data, {**valid.headers, **extra}),
            content_type=f"{renderer.media_type}; charset={renderer.charset}",
            headers={**valid.headers, **extra},
        )
    hit = cache.get(valid.key)
    if hit is None:
        data, extra = compute()
        body = _render(view, request, data, {**valid.headers, **extra})
        charset = f"; charset={renderer.charset}" if renderer.charset else ""
        hit = (body, renderer.media_type + charset, extra)
        cache.set(valid.key, hit, timeout=KEEP_SECONDS)
    return _from_hit(hit, valid.headers)


def _from_hit(hit: tuple[bytes, str, dict[str, str]], headers: dict[str, str]) -> HttpResponse:
    body, content_type, extra = hit
    response = HttpResponse(body, content_type=content_type)
    _with_headers(response, {**headers, **extra})
    return response


class CachedReadView(APIView):
    """A read endpoint whose answers are cached by the version of the data they read.

    The common request, an anonymous GET in the default format, is answered before DRF's
    request handling when it can be from what is kept: a 304 when the client's copy is
    current, or the rendered answer from the cache. That costs the version's query, a hash
    and a cache read, with the same throttles and the same headers as DRF would give. Anything
    else (credentials, another format, an answer to compute, a throttled client, no such
    resource) goes through DRF as usual, where `get` calls `cached_answer` with the same
    version.

    Subclasses say what the version is (`answer_version`, from the URL's arguments; None when
    the resource does not exist) and whether the answer depends on the time (`answer_slides`);
    `get` reads it through `version_read`, which does not ask twice in one request.
    """

    _version_read: tuple[selectors.Version | None] | None = None

    def answer_version(self, **kwargs: Any) -> selectors.Version | None:
        raise NotImplementedError

    def version_read(self, **kwargs: Any) -> selectors.Version | None:
        if self._version_read is None:
            self._version_read = (self.answer_version(**kwargs),)
        return self._version_read[0]

    def answer_slides(self, params: QueryDict) -> bool:
        return False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        early = self._answer_kept(request, kwargs)
        if early is not None:
            return early
        return super().dispatch(request, *args, **kwargs)

    def _answer_kept(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase | None:
        renderer = self.renderer_classes[0]
        if not (
            request.method == "GET"
            and settings.TRACKER_PUBLIC_READ
            and "HTTP_AUTHORIZATION" not in request.META
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and request.META.get("HTTP_ACCEPT", "*/*") in {"*/*", renderer.media_type}
            and api_settings.URL_FORMAT_OVERRIDE not in request.GET
        ):
            return None
        version = self.version_read(**kwargs)
        if version is None:
            return None
        valid = _validators(request, version=version, format=str(renderer.format),
                            now=utc_now(), sliding=self.answer_slides(request.GET))  # fmt: skip
        response: HttpResponseBase
        if _not_modified(request, valid.etag, valid.modified):
            response = _with_headers(HttpResponseNotModified(), valid.headers)
        else:
            hit = cache.get(valid.key)
            if hit is None:
                return None
            response = _from_hit(hit, valid.headers)
        # Refused requests are not counted: a refusal here is refused again, and answered, by
        # DRF. Allowed ones are counted once, here. Without credentials or a session cookie the
        # user is anonymous: what the lazy user would resolve to, without reading the session.
        request.user = AnonymousUser()
        # DRF's throttles read only what a Django request has (META, user).
        throttles = self.get_throttles()
        if not all(throttle.allow_request(request, self) for throttle in throttles):  # type: ignore[arg-type]
            return None
        # What DRF's finalize_response adds to every answer of this view.
        headers = dict(self.default_response_headers)
        if vary := headers.pop("Vary", None):
            patch_vary_headers(response, [vary])
        return _with_headers(response, headers)
