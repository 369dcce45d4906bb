"""Error answers: JSON for the API (tracker.api.errors), a page for the pages."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from tracker.api import errors as api_errors
from tracker.api.unavailable import database_unavailable


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
    # Plain HTML, no template: the error may come from the database the templates' context
    # (the signed-in user) is read from.
    exc = sys.exception()
    if exc is not None and database_unavailable(exc):
        status, message = 503, "The database is unavailable; try again in a moment."
    else:
        status, message = 500, "Something went wrong on our side; try again in a moment."
    return HttpResponse(
        f"<!doctype html><title>Error {status}</title><h1>Error {status}</h1><p>{message}</p>",
        status=status,
    )
