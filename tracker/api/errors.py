"""Every API error is JSON with the right status: `{"<field>": ["message", ...]}` for the
fields (or query parameters) at fault, `{"detail": "message"}` for everything else."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
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
    response.data = error_shape(response.data)
    request = context.get("request")
    if request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer | BrowsableAPIRenderer
    ):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _text(messages: Any) -> str:
    if isinstance(messages, list | tuple):
        return " ".join(_text(m) for m in messages)
    if isinstance(messages, dict):
        return " ".join(f"{key}: {_text(value)}" for key, value in messages.items())
    return str(messages)


def error_shape(data: Any) -> dict[str, Any]:
    """One shape for every error, whoever raised it.

    A serializer's field errors are lists while `ValidationError({"since": "..."})` gives a
    string; errors that belong to no field (`non_field_errors`, a bare list) become `detail`.
    Nested serializers keep their nested errors.
    """
    if not isinstance(data, dict):
        return {"detail": _text(data)}
    shaped: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("detail", api_settings.NON_FIELD_ERRORS_KEY):
            shaped["detail"] = " ".join(filter(None, [shaped.get("detail", ""), _text(value)]))
        elif isinstance(value, dict):
            shaped[key] = value
        elif isinstance(value, list | tuple):
            shaped[key] = [m if isinstance(m, dict | list) else str(m) for m in value]
        else:
            shaped[key] = [str(value)]
    return shaped


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": f"Nothing at {request.path}. See /api/v1/ for the endpoints."}, status=404
    )


def server_error(request: HttpRequest) -> HttpResponse:
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
