"""Renderers: orjson for JSON (long record arrays), CSV for downloads (`?format=csv`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer, JSONRenderer


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON, produced by orjson: several times faster on 100,000-record answers."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=str)


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        out = io.StringIO()
        if data:
            writer = csv.DictWriter(out, fieldnames=list(data[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(data)
        return out.getvalue().encode()
