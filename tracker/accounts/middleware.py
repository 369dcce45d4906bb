"""A plain 429 for the login forms when the password check was throttled.

DRF views answer `PasswordThrottled` themselves (JSON, `Retry-After`); Django's own views, the
browser login and the admin login, let it through to here.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from .throttles import PasswordThrottled


class PasswordThrottleMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, PasswordThrottled):
            return None
        wait = int(exception.wait or 1)
        response = HttpResponse(
            f"Too many password attempts. Try again in {wait} seconds.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
