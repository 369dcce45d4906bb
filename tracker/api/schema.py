"""The OpenAPI schema, made true to what the API answers.

drf-spectacular documents the success answer of each operation. This schema class adds what
it cannot infer: that public reads need no credentials (it does not know `PublicRead`), and the
error answers every operation can give, with one schema for `{"detail": ...}` and one for
field errors (`{"<field>": ["message", ...]}`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS

from tracker.accounts.permissions import PublicRead, PublicReadStaffWrite

ERROR = "Error"
FIELD_ERRORS = "FieldErrors"
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "description": "Every error that is not about one field.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": "A 400 naming each field or query parameter that was wrong, and why.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "minProperties": 1,
    },
}
ERROR_DESCRIPTIONS = {
    "400": "A field or query parameter is wrong: the answer names it and says what to send.",
    "401": "No credentials, or credentials that are wrong, expired or revoked.",
    "403": "Authenticated, but not allowed (for example not staff, or a missing CSRF token).",
    "404": "No such object, or one the caller does not own.",
    "413": "The request body is too large.",
    "429": "Too many requests; `Retry-After` says when to try again.",
    "503": "The database is unavailable; `Retry-After` says when to try again.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


class TrackerAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict[str, Any]]:
        auths: list[dict[str, Any]] = super().get_auth()
        if self._is_public_read() and {} not in auths:
            auths.append({})  # no credentials needed
        return auths

    def _is_public_read(self) -> bool:
        public = (PublicRead, PublicReadStaffWrite)
        return (
            self.method in SAFE_METHODS
            and settings.TRACKER_PUBLIC_READ
            and any(isinstance(p, public) for p in self.view.get_permissions())
        )

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            declared = responses.setdefault(code, {})
            for key, value in self._error_response(code).items():
                declared.setdefault(key, value)  # keep a view's own description
        return operation

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        codes = ["401", "429", "503"]  # any request may carry a bad token; all are throttled
        parameters = operation.get("parameters", [])
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            codes.append("400")
        if "requestBody" in operation:
            codes.append("413")
        if self.method not in SAFE_METHODS:
            codes.append("403")  # permissions, and CSRF for cookie sessions
        if any(p["in"] == "path" for p in parameters):
            codes.append("404")
        return codes

    def _error_response(self, code: str) -> dict[str, Any]:
        ref = self._component(ERROR)
        if code == "400":
            schema: dict[str, Any] = {"oneOf": [self._component(FIELD_ERRORS), ref]}
        else:
            schema = ref
        response: dict[str, Any] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": schema}},
        }
        if code in ("429", "503"):
            response["headers"] = RETRY_AFTER
        return response

    def _component(self, name: str) -> dict[str, str]:
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            object=name,
            schema=ERROR_SCHEMAS[name],
        )
        self.registry.register_on_missing(component)
        return component.ref
