"""Every password check is throttled: the token endpoint, the browser login and the admin login.

One budget of `TRACKER_THROTTLE_TOKEN` attempts per period for each client address and another
for each username, shared by the three entry points. Every attempt counts, right or wrong, and
it is counted before the password is checked, so an attempt over the limit learns nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate
from django.test import Client, RequestFactory

from tracker.accounts.backends import ThrottledModelBackend
from tracker.accounts.throttles import PasswordThrottled

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery"
# 15 seconds into a minute, so that a minute's window has 45 seconds left.
START = datetime(2026, 11, 28, 12, 0, 15, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ThrottledModelBackend, "clock", staticmethod(clock))
    return clock


def via_token(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def via_login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/v1/auth/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def via_admin(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_the_token_endpoint_answers_429_json_over_the_limit(alice, clock):
    client = Client()
    assert [via_token(client, "alice", f"guess {i}").status_code for i in range(10)] == [401] * 10
    throttled = via_token(client, "alice", "guess 10")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "45"
    assert throttled.json()["detail"] == "Request was throttled. Expected available in 45 seconds."


@pytest.mark.parametrize("entry", [via_login, via_admin], ids=["browser login", "admin login"])
def test_the_login_forms_answer_429_over_the_limit(alice, clock, entry):
    client = Client()
    assert [entry(client, "alice", f"guess {i}").status_code for i in range(10)] == [200] * 10
    throttled = entry(client, "alice", "guess 10")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "45"
    assert throttled["Content-Type"].startswith("text/plain")
    assert "Too many password attempts" in throttled.content.decode()


def test_the_three_entry_points_share_one_budget(alice, clock):
    client = Client()
    codes = [via_token(client, "alice", "x").status_code for _ in range(4)]
    codes += [via_login(client, "alice", "x").status_code for _ in range(3)]
    codes += [via_admin(client, "alice", "x").status_code for _ in range(3)]
    assert codes == [401] * 4 + [200] * 6
    assert via_admin(client, "alice", "x").status_code == 429
    assert via_token(client, "alice", "x").status_code == 429
    assert via_login(client, "alice", "x").status_code == 429


def test_rotating_addresses_against_one_username_is_limited(alice, bob, clock):
    client = Client()
    codes = [via_token(client, "alice", "x", address=f"10.0.{i}.1").status_code for i in range(11)]
    assert codes == [401] * 10 + [429]
    # The username's budget does not depend on how it is spelt.
    assert via_token(client, "ALICE ", "x", address="10.1.0.1").status_code == 429
    # Another account from a fresh address is not affected.
    assert via_token(client, "bob", "x", address="10.2.0.1").status_code == 401


def test_rotating_usernames_from_one_address_is_limited(alice, clock):
    client = Client()
    codes = [via_token(client, f"user{i}", "x", address="10.0.0.1").status_code for i in range(11)]
    assert codes == [401] * 10 + [429]
    assert via_token(client, "alice", RIGHT, address="10.0.0.1").status_code == 429
    assert via_token(client, "alice", RIGHT, address="10.0.0.2").status_code == 201


def test_successful_attempts_count_too_and_the_window_ends(alice, clock):
    client = Client()
    assert [via_token(client, "alice", RIGHT).status_code for _ in range(10)] == [201] * 10
    assert via_token(client, "alice", RIGHT).status_code == 429
    clock.now += timedelta(seconds=44)
    assert via_token(client, "alice", RIGHT)["Retry-After"] == "1"
    clock.now += timedelta(seconds=1)
    assert via_token(client, "alice", RIGHT).status_code == 201


def test_the_rate_follows_the_setting(alice, clock, throttle_rates):
    throttle_rates(token="2/hour")
    client = Client()
    assert [via_login(client, "alice", "x").status_code for _ in range(3)] == [200, 200, 429]
    assert via_login(client, "alice", "x")["Retry-After"] == str(3600 - 15)


def test_a_form_without_a_password_checks_nothing_and_counts_nothing(alice, clock):
    client = Client()
    for _ in range(12):
        assert client.post("/admin/login/", {"username": "alice"}).status_code == 200
    assert via_token(client, "alice", RIGHT).status_code == 201


def test_the_async_check_counts_against_the_same_budget(alice, clock):
    request = RequestFactory().post("/", REMOTE_ADDR="10.9.9.9")
    for _ in range(10):
        assert async_to_sync(aauthenticate)(request, username="nobody", password="x") is None
    with pytest.raises(PasswordThrottled):
        async_to_sync(aauthenticate)(request, username="nobody", password="x")


def test_strangers_cannot_lock_a_user_out_of_an_address_they_signed_in_from(alice, clock):
    client = Client()
    assert via_token(client, "alice", RIGHT, address="10.9.0.1").status_code == 201
    clock.now += timedelta(minutes=1)  # a new window
    codes = [via_token(client, "alice", "x", address=f"10.0.{i}.1").status_code for i in range(11)]
    assert codes == [401] * 10 + [429]  # the username's budget is spent...
    assert via_token(client, "alice", RIGHT, address="10.9.0.1").status_code == 201  # ...not here
    assert via_token(client, "alice", RIGHT, address="10.8.0.1").status_code == 429
