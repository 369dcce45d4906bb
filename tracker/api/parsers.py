"""The JSON request parser: UTF-8 JSON only, bounded in size and in nesting depth.

Python's json module recurses once per nesting level, so 100,000 `[` end in a RecursionError
(a 500). orjson refuses nesting deeper than 1,024 levels, invalid UTF-8, lone surrogates, NaN
and numbers that overflow a double, each with a JSONDecodeError that becomes a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from .renderers import FastJSONRenderer


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class BoundedJSONParser(BaseParser):
    """At most `TRACKER_API_MAX_BODY` bytes of JSON; larger bodies are a 413 before parsing."""

    media_type = "application/json"
    renderer_class = FastJSONRenderer

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int = settings.TRACKER_API_MAX_BODY
        too_large = PayloadTooLarge(f"The request body is larger than {limit:,} bytes.")
        request = (parser_context or {}).get("request")
        declared = getattr(request, "META", {}).get("CONTENT_LENGTH") or "0"
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise too_large  # refused without reading it
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise too_large
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error: {exc}.") from None
