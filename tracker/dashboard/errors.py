"""Error answers: JSON for the API (tracker.api.errors), a page for the pages."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from tracker.api import errors as api_errors
from tracker.api.unavailable import database_unavailable, unavailable_response


def _for_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    context = {"status": status, "title": title, "message": message}
    return render(request, "dashboard/error.html", context, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    if _for_api(request):
        return api_errors.not_found(request, exception)
    return _page(request, 404, "Not found", f"There is no page at {request.path}.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    if _for_api(request):
        return api_errors.permission_denied(request, exception)
    reason = str(exception) if exception and str(exception) else "This page is not yours to see."
    return _page(request, 403, "Not allowed", reason)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    if _for_api(request):
        return api_errors.bad_request(request, exception)
    return _page(request, 400, "Bad request", "The request could not be understood.")


def server_error(request: HttpRequest) -> HttpResponseBase:
    if _for_api(request):
        return api_errors.server_error(request)
    exc = sys.exception()  # the handler is called while the exception is being handled
    if exc is not None and database_unavailable(exc):
        return unavailable_response(request, exc)
    # Plain HTML, no template: the error may come from what the templates' context reads.
    return HttpResponse(
        "<!doctype html><meta charset=utf-8><title>Server error</title><h1>Server error</h1>"
        "<p>Something went wrong on our side; try again in a moment.</p>",
        status=500,
    )
