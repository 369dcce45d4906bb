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
        "additionalProperties": False,
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
    "406": "The Accept header asks for a format this operation does not give.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
    "429": "Too many requests; `Retry-After` says when to try again.",
    "503": "The database is unavailable; `Retry-After` says when to try again.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


ENUM_COMPONENTS: dict[str, dict[str, Any]] = {}


def enum_component(name: str, names: dict[str, str]) -> dict[str, str]:
    """A reference to a named string enum, in the given order, with a name for each value that
    generated clients use (`x-enum-varnames`) where the value is no identifier ("5m"). Named,
    so that every operation taking it shares one type in a generated client."""
    ENUM_COMPONENTS[name] = {
        "type": "string",
        "enum": list(names),
        "x-enum-varnames": list(names.values()),
    }
    return {"$ref": f"#/components/schemas/{name}"}


def add_enum_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the named enums that parameters refer to."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(ENUM_COMPONENTS)
    return result


class TrackerAutoSchema(AutoSchema):
    def map_renderers(self, attribute: str) -> list[Any]:
        """Only the view's first (main) format: one content type per operation, which is what
        generated clients can parse. `?format=` and `Accept` alternatives (the browsable page,
        CSV on the JSON paths) are conveniences the schema leaves out; CSV has operations of
        its own."""
        renderers: list[Any] = super().map_renderers(attribute)
        return renderers[:1]

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """Every field of an answer is always there: required, so typed clients need not check.
        (drf-spectacular leaves writable fields such as `Pair.active` optional.)"""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and schema.get("properties"):
            schema["required"] = sorted(schema["properties"])
        return schema

    def get_auth(self) -> list[dict[str, Any]]:
        if self._is_public_read():
            # No security requirement at all: generators (openapi-python-client among them)
            # read any requirement, even the optional `{}`, as "credentials needed", and a
            # token changes nothing about a public read.
            return []
        auths: list[dict[str, Any]] = super().get_auth()
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
            codes += ["413", "415"]
        if len(self.view.get_renderers()) == 1:
            codes.append("406")  # one format only (CSV): an Accept without it is refused
        if self.method not in SAFE_METHODS:
            codes.append("403")  # permissions, and CSRF for cookie sessions
        if any(p["in"] == "path" for p in parameters):
            codes.append("404")
        return codes

    def _error_response(self, code: str) -> dict[str, Any]:
        ref = self._component(ERROR)
        if code == "400":
            # Error first: a generated client tries the union in order, and only Error insists
            # on `detail`, so each answer is parsed as what it is.
            schema: dict[str, Any] = {"oneOf": [ref, self._component(FIELD_ERRORS)]}
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
