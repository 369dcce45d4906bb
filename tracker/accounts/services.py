"""Issuing, checking and revoking API tokens. Time is always passed in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User

from .models import ApiToken

PREFIX_LENGTH = 8
# Writing last_used_at on every request would turn every read into a write; once a minute does.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key: the only time the key exists outside the client."""

    token: ApiToken
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(*, user: User, now: datetime, ttl: timedelta | None = None) -> IssuedToken:
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=_hash(key),
        prefix=key[:PREFIX_LENGTH],
        created_at=now,
        expires_at=now + (ttl if ttl is not None else settings.TRACKER_TOKEN_TTL),
    )
    return IssuedToken(token=token, key=key)


def token_authenticate(*, key: str, now: datetime) -> ApiToken | None:
    """The live token with this key, or None if unknown, expired or its user is inactive."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken) -> None:
    token.delete()


def tokens_prune(*, now: datetime) -> int:
    """Delete expired tokens; returns how many."""
    deleted, _ = ApiToken.objects.filter(expires_at__lte=now).delete()
    return deleted
