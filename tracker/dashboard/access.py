"""Who may see which page: the same rules as the API's permissions, for pages.

Reading follows TRACKER_PUBLIC_READ, as `PublicRead` does for the API: when it is off, an
anonymous visitor is sent to the sign-in page. Alert pages are for signed-in users, pair and
exchange management for staff; a signed-in user who is not staff gets a 403 page there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

View = Callable[..., HttpResponseBase]


def _signed_in(request: HttpRequest) -> bool:
    return bool(request.user.is_authenticated)


def public_read(view: View) -> View:
    """Open to everyone unless TRACKER_PUBLIC_READ is off; then signed-in users only."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.TRACKER_PUBLIC_READ and not _signed_in(request):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return guarded


def signed_in(view: View) -> View:
    """Signed-in users only; others are sent to the sign-in page."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _signed_in(request):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return guarded


def staff_only(view: View) -> View:
    """Staff only: anonymous visitors sign in first, other users get a 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _signed_in(request):
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Only staff manage pairs and exchanges.")
        return view(request, *args, **kwargs)

    return guarded
