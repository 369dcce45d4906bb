"""Reads of account data, always scoped to the user who asks."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from .models import ApiToken


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
