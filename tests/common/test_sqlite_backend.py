"""A kept SQLite connection follows its file: replaced or gone, the next request reopens."""

from __future__ import annotations

import os
import sqlite3

import pytest
from django.db.utils import ConnectionHandler, OperationalError


def database_with(path, value: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (value,))


def read(connection) -> str:
    connection.close_if_health_check_failed()  # what Django does when a request starts
    with connection.cursor() as cursor:
        cursor.execute("SELECT v FROM t")
        return cursor.fetchone()[0]


@pytest.fixture
def connection(tmp_path, django_db_blocker):
    django_db_blocker.unblock()  # a connection of its own, to files of its own
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "tracker.common.sqlite",
                "NAME": str(tmp_path / "live.sqlite3"),
                "CONN_MAX_AGE": 600,
                "CONN_HEALTH_CHECKS": True,
            }
        }
    )
    yield handler["default"]
    handler.close_all()
    django_db_blocker.restore()


def test_a_kept_connection_reads_the_file_that_replaced_its_own(tmp_path, connection):
    database_with(tmp_path / "live.sqlite3", "old")
    database_with(tmp_path / "restored.sqlite3", "restored")
    assert read(connection) == "old"
    connection.health_check_done = False  # the next request
    os.replace(tmp_path / "restored.sqlite3", tmp_path / "live.sqlite3")
    assert read(connection) == "restored"


def test_a_kept_connection_to_a_file_moved_away_fails_instead_of_reading_it(tmp_path, connection):
    (tmp_path / "db").mkdir()
    connection.settings_dict["NAME"] = str(tmp_path / "db" / "live.sqlite3")
    database_with(tmp_path / "db" / "live.sqlite3", "here")
    assert read(connection) == "here"
    connection.health_check_done = False
    (tmp_path / "db").rename(tmp_path / "away")
    with pytest.raises(OperationalError, match="unable to open"):
        read(connection)


def test_a_connection_to_the_same_file_is_kept(tmp_path, connection):
    database_with(tmp_path / "live.sqlite3", "same")
    assert read(connection) == "same"
    kept = connection.connection
    connection.health_check_done = False
    assert read(connection) == "same"
    assert connection.connection is kept
