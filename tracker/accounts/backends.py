"""Django's username-and-password check, behind the limit on password guessing.

Every password check goes through `django.contrib.auth.authenticate` (or `aauthenticate`),
whichever page or endpoint asks (`POST /api/v1/auth/token`, the browser login, the admin
login), so counting attempts here limits them all with one budget. The attempt is counted
before the password is hashed: a throttled guess costs no hashing and learns nothing.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest

from tracker.common.clock import Clock, utc_now

from .throttles import client_ident, password_address_known, password_attempt


class ThrottledModelBackend(ModelBackend):
    clock: Clock = staticmethod(utc_now)

    def _attempt(self, request: HttpRequest | None, username: Any, password: Any) -> None:
        # Without a request the check is not made for a network client (a management
        # command, the shell): there is no one to throttle.
        if request is not None and username is not None and password is not None:
            password_attempt(
                address=client_ident(request), username=str(username), now=self.clock()
            )

    def _signed_in(self, request: HttpRequest | None, username: Any, user: Any) -> None:
        if request is not None and user is not None:
            password_address_known(address=client_ident(request), username=str(username))

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        self._attempt(request, username, password)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        self._signed_in(request, username, user)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        await sync_to_async(self._attempt)(request, username, password)
        user = await super().aauthenticate(request, username=username, password=password, **kwargs)
        await sync_to_async(self._signed_in)(request, username, user)
        return user
