"""Clients for each kind of caller: anonymous, a user, another user, staff."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tracker.accounts.services import token_issue
from tracker.common.clock import utc_now


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user, now=utc_now()).key}")
    return client


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob", password="another long passphrase")


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("sam", password="staff passphrase 1", is_staff=True)


class Clock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Stops the API's clock in the middle of a fetch-interval slot, so no slot boundary falls
    between two requests of a test unless the test moves the clock past one."""
    now = utc_now()
    stopped = Clock(now.replace(second=30, microsecond=0) - timedelta(minutes=1))
    monkeypatch.setattr("tracker.api.views.utc_now", stopped)
    monkeypatch.setattr("tracker.api.records.utc_now", stopped)
    monkeypatch.setattr("tracker.api.caching.utc_now", stopped)
    return stopped
