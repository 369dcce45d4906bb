"""503 while the database cannot be reached, on every path, instead of a 500.

A database that is down, restarting, refusing connections, out of pooled connections
(`DATABASE_TIMEOUT`) or, on SQLite, missing or locked beyond that timeout raises Django's
`OperationalError` or `InterfaceError` (psycopg's pool timeout is an `OperationalError` too).
Raised in a view, DRF's or Django's, the middleware answers; raised anywhere else in the
request (a middleware, a signal), Django's 500 handler asks `database_unavailable` first
(tracker.api.errors.server_error). Nothing is kept between requests: each one borrows a
connection anew, so answers come back by themselves once the database does.
"""

from __future__ import annotations

import logging
import sqlite3

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds: long enough for a restart, short enough for a client to come back
# PostgreSQL's SQLSTATEs for a server that cannot be used now: connection exceptions (08),
# shutting down or starting up (57P01-57P03), out of connections, memory or disk (53).
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53")
# SQLite's messages for a file that cannot be used now.
SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o error", "is full")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be used right now (a 503 that retrying fixes),
    rather than that a query is wrong (no such table, a statement timeout: a 500 to look at)."""
    if isinstance(exc, InterfaceError | PoolTimeout):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc
    if isinstance(cause, PoolTimeout):
        return True
    if isinstance(cause, sqlite3.OperationalError):
        return any(text in str(cause).lower() for text in SQLITE_UNAVAILABLE)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        return True  # no answer from a server at all: the connection itself failed
    return str(sqlstate).startswith(UNREACHABLE_SQLSTATES)


UNAVAILABLE = "The database is unavailable at the moment. Try again shortly."


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: JSON for the API, a plain page (no template, whose context may
    read the database) for the pages and the admin."""
    logger.warning(
        "database unavailable, answering 503 to %s %s: %s", request.method, request.path, exc
    )
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(
            "<!doctype html><meta charset=utf-8><title>Unavailable</title>"
            f"<h1>Unavailable</h1><p>{UNAVAILABLE}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER)
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            return unavailable_response(request, exception)
        return None
