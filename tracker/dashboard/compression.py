"""Pages gzipped when the browser accepts it; nothing else.

An overview of 100 metrics is 170 kB of HTML, most of it the same few attributes and figures
row after row: gzipped, a seventh of that. Only HTML is compressed here: static files are
compressed ahead by WhiteNoise, the API's cached answers keep their ETags and their cost per
request, and the live stream (`text/event-stream`) must not be buffered. Django's
GZipMiddleware pads each compressed answer with random bytes against BREACH-style guessing
of the CSRF token in a page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware


class PageGZipMiddleware(GZipMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
