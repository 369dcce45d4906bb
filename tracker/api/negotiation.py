"""Content negotiation: an unknown `?format=` is the client's mistake, a 400 naming it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from .history import shown
from .renderers import FastJSONRenderer


class FormatContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but `?format=` that no renderer offers (or an empty one) is a 400.

    DRF answers such a request with 404, as if the resource did not exist. OPTIONS describes
    the endpoint, which only JSON can carry, so it is answered in JSON whatever was asked for.
    A request that names no format and accepts anything (most API clients) gets the first
    renderer without parsing an Accept header, as DRF's negotiation would choose it.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        if request.method == "OPTIONS":
            json = next((r for r in renderers if r.format == "json"), FastJSONRenderer())
            return json, json.media_type
        name = self.settings.URL_FORMAT_OVERRIDE
        if (
            not format_suffix
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and not (name and name in request.query_params)
        ):
            return renderers[0], renderers[0].media_type
        if name and not format_suffix and name in request.query_params:
            offered = [renderer.format for renderer in renderers]
            value = request.query_params.get(name) or ""
            if value not in offered:
                raise ValidationError(
                    {name: [f"Expected one of {', '.join(offered)}; got {shown(value)}."]}
                )
        return super().select_renderer(request, renderers, format_suffix)
