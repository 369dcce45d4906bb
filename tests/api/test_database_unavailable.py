"""While the database cannot be reached the server answers 503 with Retry-After, on every path,
and it recovers by itself when the database is back.

For real, through `runtracker`: on PostgreSQL a relay between the server and the database is
cut and restored (the machine's PostgreSQL is shared and stays up); on SQLite the directory
holding the database file goes away and comes back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import psycopg.errors
import pytest
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from tests.fakes.kraken import FakeKraken
from tests.fakes.tcp_proxy import TcpProxy
from tests.postgres import database_url, scratch_database, server_address
from tests.process import manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until
from tracker.api.errors import server_error
from tracker.dashboard.errors import server_error as page_or_api_server_error

# A bogus session cookie makes the admin look the session up in the database.
PATHS = [
    ("/api/v1/metrics", {}),
    ("/api/v1/metrics/1", {}),
    ("/api/v1/metrics/1/records", {}),
    ("/admin/", {"sessionid": "not-a-session"}),
    ("/", {}),
    ("/metrics/1", {}),
]


def answers(server: TrackerServer) -> list[httpx.Response]:
    return [httpx.get(server.url + path, cookies=cookies, timeout=30) for path, cookies in PATHS]


def assert_unavailable(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 503, (response.url, response.text)
        assert int(response.headers["Retry-After"]) > 0
        if response.url.path.startswith("/api/"):
            assert response.headers["Content-Type"] == "application/json"
            assert "database" in json.loads(response.text)["detail"].lower()
        else:  # the pages and the admin
            assert response.headers["Content-Type"].startswith("text/html")
            assert "database is unavailable" in response.text


def serving(server: TrackerServer) -> bool:
    return httpx.get(server.url + "/api/v1/metrics/1/records", timeout=30).status_code == 200


def outage_and_recovery(
    server: TrackerServer, *, cut: Callable[[], object], restore: Callable[[], object]
) -> None:
    wait_until(lambda: serving(server), timeout=30, what="the first poll")
    stored = stored_records(server)
    cut()
    assert_unavailable(answers(server))
    restore()
    wait_until(lambda: serving(server), timeout=60, what="recovery once the database is back")
    assert [r.status_code for r in answers(server)] == [200, 200, 200, 302, 200, 200]
    # The poller recovers too (a tick may have landed just before the cut, hence two).
    wait_until(
        lambda: stored_records(server) >= stored + 2, timeout=60, what="the poller storing again"
    )


def stored_records(server: TrackerServer) -> int:
    return len(httpx.get(server.url + "/api/v1/metrics/1/records", timeout=30).json())


@pytest.fixture
def kraken_url() -> Iterator[str]:
    with FakeKraken() as kraken:
        yield kraken.url


@pytest.fixture
def sqlite_env(tmp_path: Path, kraken_url: str) -> dict[str, str]:
    folder = tmp_path / "db"
    folder.mkdir()
    env = tracker_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{folder / 'tracker.sqlite3'}",
        DATABASE_TIMEOUT="1",
        TRACKER_EXCHANGE_URL=kraken_url,
        TRACKER_PAIRS="BTC/USD",
    )
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


@pytest.mark.slow
def test_sqlite_file_gone_is_a_503_until_it_is_back(tmp_path: Path, sqlite_env):
    env = sqlite_env
    folder, away = tmp_path / "db", tmp_path / "db-away"
    with TrackerServer(env=env) as server:
        outage_and_recovery(
            server, cut=lambda: folder.rename(away), restore=lambda: away.rename(folder)
        )
        assert server.alive()
    assert "database unavailable" in server.output


@pytest.mark.slow
def test_sqlite_locked_beyond_the_timeout_is_a_503(tmp_path: Path, sqlite_env):
    credentials = {"username": "root", "password": "a long admin passphrase"}
    admin = {"TRACKER_ADMIN_USER": "root", "TRACKER_ADMIN_PASSWORD": credentials["password"]}
    created = manage("createadmin", env={**sqlite_env, **admin})
    assert created.returncode == 0, created.stderr
    with TrackerServer(env=sqlite_env) as server:
        wait_until(lambda: serving(server), timeout=30, what="the first poll")
        # Another process holds the write lock for longer than DATABASE_TIMEOUT (1 s).
        lock = sqlite3.connect(tmp_path / "db" / "tracker.sqlite3", isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            locked = httpx.post(server.url + "/api/v1/auth/token", json=credentials, timeout=30)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert_unavailable([locked])
        issued = httpx.post(server.url + "/api/v1/auth/token", json=credentials, timeout=30)
        assert issued.status_code == 201, issued.text


@pytest.mark.slow
@pytest.mark.postgresql
def test_postgresql_unreachable_is_a_503_until_it_is_back(tmp_path: Path, kraken_url: str):
    with scratch_database("outage") as name, TcpProxy(server_address()) as relay:
        env = tracker_env(
            tmp_path,
            DATABASE_URL=database_url(name, host="127.0.0.1", port=relay.port),
            DATABASE_TIMEOUT="1",
            TRACKER_EXCHANGE_URL=kraken_url,
            TRACKER_PAIRS="BTC/USD",
        )
        migrated = manage("migrate", "--no-input", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        with TrackerServer(env=env) as server:
            outage_and_recovery(server, cut=relay.cut, restore=relay.restore)
            assert server.alive()
    assert "database unavailable" in server.output


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_the_500_handler_answers_503_for_database_errors(error):
    """Errors raised outside a view (in a middleware, a signal) reach Django's 500 handler."""
    for path in ("/api/v1/metrics", "/admin/", "/"):
        request = RequestFactory().get(path)
        try:
            raise error("could not connect to server")
        except error:
            response = page_or_api_server_error(request)
        assert isinstance(response, HttpResponse)
        assert response.status_code == 503
        assert int(response["Retry-After"]) > 0
        if path.startswith("/api/"):
            assert json.loads(response.content)["detail"]
        else:
            assert b"database is unavailable" in response.content


def test_other_errors_stay_500():
    request = RequestFactory().get("/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500


def _wrapped(driver_error: Exception) -> OperationalError:
    """The driver's error as Django raises it: wrapped, the driver's as the cause."""
    try:
        raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    ("driver_error", "unavailable"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("unable to open database file"), True),
        (sqlite3.OperationalError("no such table: markets_metric"), False),
        (sqlite3.OperationalError("too many SQL variables"), False),
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.TooManyConnections("too many clients already"), True),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (PoolTimeout("couldn't get a connection after 1.00 sec"), True),
    ],
)
def test_only_errors_that_retrying_fixes_are_a_503(driver_error, unavailable):
    """A missing table or a cancelled query is a bug to see (500 with a traceback), not an
    outage to wait out."""
    request = RequestFactory().get("/api/v1/metrics")
    try:
        raise _wrapped(driver_error)
    except OperationalError:
        response = server_error(request)
    assert response.status_code == (503 if unavailable else 500)
