"""API tokens: stored hashed, expire on an injected clock, revocable."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from tracker.accounts.models import ApiToken
from tracker.accounts.services import token_authenticate, token_issue, token_revoke, tokens_prune

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="a-long-passphrase")


def test_only_a_hash_of_the_key_is_stored(alice):
    issued = token_issue(user=alice, now=NOW)
    stored = ApiToken.objects.get()
    assert issued.key not in {stored.key_hash, stored.prefix}
    assert len(stored.key_hash) == 64
    assert issued.key.startswith(stored.prefix)
    assert len(issued.key) >= 40


def test_a_token_works_until_it_expires(alice, settings):
    settings.TRACKER_TOKEN_TTL = timedelta(days=30)
    issued = token_issue(user=alice, now=NOW)

    live = token_authenticate(key=issued.key, now=NOW + timedelta(days=29, hours=23))
    assert live is not None
    assert live.user == alice
    assert token_authenticate(key=issued.key, now=NOW + timedelta(days=30)) is None


def test_unknown_revoked_and_inactive_users_tokens_are_refused(alice):
    issued = token_issue(user=alice, now=NOW)
    assert token_authenticate(key=issued.key + "x", now=NOW) is None

    alice.is_active = False
    alice.save()
    assert token_authenticate(key=issued.key, now=NOW) is None

    alice.is_active = True
    alice.save()
    token_revoke(token=issued.token)
    assert token_authenticate(key=issued.key, now=NOW) is None


def test_last_use_is_recorded_at_most_once_a_minute(alice):
    issued = token_issue(user=alice, now=NOW)
    token_authenticate(key=issued.key, now=NOW + timedelta(seconds=10))
    token_authenticate(key=issued.key, now=NOW + timedelta(seconds=40))
    assert ApiToken.objects.get().last_used_at == NOW + timedelta(seconds=10)
    token_authenticate(key=issued.key, now=NOW + timedelta(seconds=80))
    assert ApiToken.objects.get().last_used_at == NOW + timedelta(seconds=80)


def test_expired_tokens_are_pruned(alice):
    token_issue(user=alice, now=NOW - timedelta(days=40))
    fresh = token_issue(user=alice, now=NOW)
    assert tokens_prune(now=NOW) == 1
    assert list(ApiToken.objects.all()) == [fresh.token]
