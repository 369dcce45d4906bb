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
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        if request.method == "OPTIONS":
            json = next((r for r in renderers if r.format == "json"), FastJSONRenderer())
            return json, json.media_type
        name = self.settings.URL_FORMAT_OVERRIDE
        if name and not format_suffix and name in request.query_params:
            offered = [renderer.format for renderer in renderers]
            value = request.query_params.get(name) or ""
            if value not in offered:
                raise ValidationError(
                    {name: [f"Expected one of {', '.join(offered)}; got {shown(value)}."]}
                )
        return super().select_renderer(request, renderers, format_suffix)
