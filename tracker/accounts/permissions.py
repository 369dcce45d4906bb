"""Who may do what through the API.

The default (settings.REST_FRAMEWORK) is `IsAuthenticated`: an endpoint that says nothing is
closed. Public reads and staff-only writes are opted into per view.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _authenticated(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated)


def _unhandled(request: Request, view: Any) -> bool:
    """A method the view does not implement: let it answer 405 rather than 401/403."""
    return not hasattr(view, (request.method or "").lower())


class PublicRead(BasePermission):
    """Reads are open to everyone unless TRACKER_PUBLIC_READ is off; nothing else is allowed."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if _unhandled(request, view):
            return True
        if request.method not in SAFE_METHODS:
            return False
        return settings.TRACKER_PUBLIC_READ or _authenticated(request)


class PublicReadStaffWrite(BasePermission):
    """Reads as `PublicRead`; changes for staff only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS or _unhandled(request, view):
            return PublicRead().has_permission(request, view)
        return bool(_authenticated(request) and request.user.is_staff)
