"""`Authorization: Token <key>` or `Bearer <key>` against hashed, expiring API tokens."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from tracker.common.clock import Clock, utc_now

from .services import token_authenticate

SCHEMES = (b"token", b"bearer")
# One message for every failure: which part was wrong is not for the caller to learn.
INVALID = "Invalid or expired token."


class ApiTokenAuthentication(BaseAuthentication):
    clock: Clock = staticmethod(utc_now)

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() not in SCHEMES:
            raise AuthenticationFailed(INVALID)
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(INVALID) from None
        token = token_authenticate(key=key, now=self.clock())
        if token is None:
            raise AuthenticationFailed(INVALID)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
