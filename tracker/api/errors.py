"""Every API error is a JSON object with a `detail` message and the right status."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .unavailable import database_unavailable, unavailable_response

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with list-shaped bodies wrapped in an object, always rendered as JSON.

    A request for CSV (or any other format) that fails still gets its error as JSON.
    """
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if not isinstance(response.data, dict):
        response.data = {"detail": response.data}
    request = context.get("request")
    if request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer | BrowsableAPIRenderer
    ):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": f"Nothing at {request.path}. See /api/v1/ for the endpoints."}, status=404
    )


def server_error(request: HttpRequest) -> JsonResponse:
    exc = sys.exception()  # the handler is called while the exception is being handled
    if exc is not None and database_unavailable(exc):
        return unavailable_response(request, exc)
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
