"""Getting, using and revoking tokens; who am I; session login; 401s that say nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.factories import metric_create
from tracker.accounts.models import ApiToken
from tracker.accounts.services import token_issue
from tracker.common.clock import utc_now

pytestmark = pytest.mark.django_db
INVALID = {"detail": "Invalid or expired token."}


def get_token(api: APIClient, username: str, password: str) -> str:
    response = api.post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_a_token_from_username_and_password_authenticates(api, alice, scheme):
    key = get_token(api, "alice", "correct horse battery")
    api.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    assert api.get("/api/v1/me").json() == {
        "id": alice.id,
        "username": "alice",
        "email": "",
        "is_staff": False,
        "authenticated_by": "token",
    }


def test_the_token_answer_has_the_key_and_its_expiry(api, alice, settings):
    settings.TRACKER_TOKEN_TTL = timedelta(days=30)
    body = api.post(
        "/api/v1/auth/token",
        {"username": "alice", "password": "correct horse battery"},
        format="json",
    ).json()
    assert set(body) == {"token", "id", "prefix", "expires_at"}
    assert body["token"].startswith(body["prefix"])
    assert body["expires_at"].endswith("Z")
    assert ApiToken.objects.get().expires_at - utc_now() > timedelta(days=29, hours=23)


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "correct horse battery"},
    ],
)
def test_wrong_credentials_get_the_same_401(api, alice, credentials):
    response = api.post("/api/v1/auth/token", credentials, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    assert not ApiToken.objects.exists()


def test_missing_fields_are_a_400_naming_them(api):
    response = api.post("/api/v1/auth/token", {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Token not-a-real-key", "Basic YWxpY2U6eA==", "Bearer \u00e9\u00e9"],
)
def test_malformed_or_unknown_credentials_are_a_plain_401(api, alice, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_expired_token_is_a_401(api, alice):
    issued = token_issue(user=alice, now=utc_now() - timedelta(days=31))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    response = api.get("/api/v1/me")
    assert (response.status_code, response.json()) == (401, INVALID)


def test_delete_revokes_the_token_in_use(api, alice):
    key = get_token(api, "alice", "correct horse battery")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.delete("/api/v1/auth/token").status_code == 204
    response = api.get("/api/v1/me")
    assert (response.status_code, response.json()) == (401, INVALID)


def test_users_see_and_revoke_only_their_own_tokens(alice, bob):
    as_alice, as_bob = client_for(alice), client_for(bob)
    bobs_token = ApiToken.objects.get(user=bob)

    assert [t["id"] for t in as_alice.get("/api/v1/auth/tokens").json()] == [
        ApiToken.objects.get(user=alice).id
    ]
    response = as_alice.delete(f"/api/v1/auth/tokens/{bobs_token.id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Token {bobs_token.id} does not exist."}
    assert as_bob.get("/api/v1/me").status_code == 200

    assert as_bob.delete(f"/api/v1/auth/tokens/{bobs_token.id}").status_code == 204
    assert as_bob.get("/api/v1/me").status_code == 401


def test_token_listing_never_shows_keys(alice):
    body = client_for(alice).get("/api/v1/auth/tokens").json()
    assert set(body[0]) == {"id", "prefix", "created_at", "expires_at", "last_used_at"}


def test_anonymous_me_is_a_401(api):
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_session_login_with_csrf_then_me(alice):
    browser = APIClient(enforce_csrf_checks=True)
    page = browser.get("/api/v1/auth/login/")
    assert page.status_code == 200
    csrf = page.cookies["csrftoken"].value

    refused = browser.post(
        "/api/v1/auth/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert refused.status_code == 403  # no CSRF token

    login = browser.post(
        "/api/v1/auth/login/",
        {"username": "alice", "password": "correct horse battery", "csrfmiddlewaretoken": csrf},
    )
    assert login.status_code == 302
    assert browser.get("/api/v1/me").json()["authenticated_by"] == "session"

    csrf = browser.cookies["csrftoken"].value
    assert browser.post("/api/v1/auth/logout/", {"csrfmiddlewaretoken": csrf}).status_code == 302
    assert browser.get("/api/v1/me").status_code == 401


def test_session_writes_need_the_csrf_token(staff):
    pair = metric_create().pair
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff)
    response = browser.patch(f"/api/v1/pairs/{pair.id}", {"active": False}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_reads_can_be_closed_to_anonymous_callers(api, alice, settings):
    metric = metric_create()
    settings.TRACKER_PUBLIC_READ = False
    for path in ("/api/v1/metrics", f"/api/v1/metrics/{metric.id}", "/api/v1/pairs"):
        assert api.get(path).status_code == 401
        assert client_for(alice).get(path).status_code == 200


def test_no_field_makes_a_user_staff_or_owner(api, alice):
    response = api.post(
        "/api/v1/auth/token",
        {
            "username": "alice",
            "password": "correct horse battery",
            "is_staff": True,
            "user": 99,
            "id": 5,
        },
        format="json",
    )
    assert response.status_code == 201
    alice.refresh_from_db()
    assert not alice.is_staff
    assert ApiToken.objects.get().user == alice


def test_staff_can_pause_a_pair_but_not_rename_or_move_it(staff):
    pair = metric_create("BTC/USD").pair
    response = client_for(staff).patch(
        f"/api/v1/pairs/{pair.id}",
        {"active": False, "symbol": "ETH/USD", "id": 99, "exchange": "x"},
        format="json",
    )
    assert response.status_code == 200
    pair.refresh_from_db()
    assert (pair.id, pair.symbol, pair.exchange.name, pair.active) == (
        response.json()["id"],
        "BTC/USD",
        "kraken",
        False,
    )


def test_createadmin_makes_a_superuser_from_the_environment(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("TRACKER_ADMIN_USER", "root")
    monkeypatch.setenv("TRACKER_ADMIN_PASSWORD", "a long admin passphrase")
    call_command("createadmin")
    admin = User.objects.get(username="root")
    assert admin.is_superuser and admin.is_staff and admin.check_password("a long admin passphrase")
    monkeypatch.setenv("TRACKER_ADMIN_PASSWORD", "something else entirely")
    call_command("createadmin")
    admin.refresh_from_db()
    assert admin.check_password("a long admin passphrase")


def test_createadmin_refuses_a_weak_password(monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setenv("TRACKER_ADMIN_USER", "root")
    monkeypatch.setenv("TRACKER_ADMIN_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command("createadmin")
    assert not User.objects.exists()
