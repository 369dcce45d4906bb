"""Clients for each kind of caller: anonymous, a user, another user, staff."""

from __future__ import annotations

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
